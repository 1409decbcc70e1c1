"""Step rules: v → v − η∇C (eq. 10, 15) with η fixed or adaptive.

Every rule moves v in place and returns the η it used. Adaptive rules keep
the promise of eq. (9), ΔC ≈ −η‖∇C‖² ≤ 0, honest in different ways:

- ``fixed``: a constant η (descends when η is small enough).
- ``armijo``: backtracking until ΔC ≤ −c·η‖∇C‖² (sufficient decrease).
- ``normalized``: η = ε/‖∇C‖, so every step has length ε (the seed's last
  paragraph: "choose ‖Δv‖ = ε").
- ``bold-driver``: grow η after a step that lowered C, undo a step that
  raised it and shrink η.
- ``barzilai-borwein``: η from the last two points and gradients; fast on
  smooth problems, not monotone.

A non-finite trial cost is treated as "reject and shrink", never accepted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import gdkit
from gdkit.errors import ConfigError, StepError
from gdkit.protocols import FloatArray, StepContext

__all__ = ["Armijo", "BarzilaiBorwein", "BoldDriver", "Fixed", "Normalized"]


def _positive(rule: str, name: str, value: Any, *, upper: float = math.inf,
              closed_upper: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    x = float(value) if ok else math.nan
    if not (x > 0 and (x <= upper if closed_upper else x < upper)):
        bound = f" and {'<=' if closed_upper else '<'} {upper:g}" if upper < math.inf else ""
        raise ConfigError(f"{rule}: {name} must be a number > 0{bound}, got {value!r}.")
    return x


def _integer(rule: str, name: str, value: Any, *, minimum: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{rule}: {name} must be an integer >= {minimum}{what}, "
                          f"got {value!r}.")
    return int(value)


def _buffer(buf: FloatArray | None, v: FloatArray) -> FloatArray:
    if buf is None or buf.shape != v.shape or buf.dtype != v.dtype:
        return np.empty_like(v)
    return buf


def _backtrack(v: FloatArray, grad: FloatArray, ctx: StepContext, trial: FloatArray, *,
               eta: float, ref: float, gg: float, c: float, shrink: float,
               tries: int) -> float | None:
    """Try η, η·shrink, … until C(v − η∇C) ≤ ref − c·η‖∇C‖²; move v there and
    return η, or return None when ``tries`` trials all fail (v unchanged)."""
    for _ in range(tries):
        np.multiply(grad, -eta, out=trial)
        trial += v
        ft = ctx.cost(trial)
        if math.isfinite(ft) and ft <= ref - c * eta * gg:
            v[...] = trial
            return eta
        eta *= shrink
    return None


class Fixed:
    """A fixed learning rate: v → v − η∇C (eq. 15).

    Parameters
    ----------
    eta : float, default 0.1
        η > 0. ΔC ≈ −η‖∇C‖² ≤ 0 (eq. 9) holds for η small enough; too large
        and the cost grows (and gdkit raises DivergenceError once it is
        non-finite).
    """

    __slots__ = ("_buf", "eta")

    def __init__(self, eta: float = 0.1) -> None:
        self.eta = _positive("fixed", "eta", eta)
        self._buf: FloatArray | None = None

    def __repr__(self) -> str:
        return f"Fixed(eta={self.eta!r})"

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        buf = self._buf = _buffer(self._buf, v)
        np.multiply(grad, self.eta, out=buf)
        v -= buf
        return self.eta


class Normalized:
    """A step of fixed length: η = ε/‖∇C‖, so Δv = −ε ∇C/‖∇C‖.

    The choice at the end of the seed's section: among all moves of size
    ‖Δv‖ = ε, Δv = −η∇C with η = ε/‖∇C‖ decreases C the most.

    Parameters
    ----------
    epsilon : float, default 0.01
        The step length ε > 0.
    """

    __slots__ = ("_buf", "epsilon")

    def __init__(self, epsilon: float = 0.01) -> None:
        self.epsilon = _positive("normalized", "epsilon", epsilon)
        self._buf: FloatArray | None = None

    def __repr__(self) -> str:
        return f"Normalized(epsilon={self.epsilon!r})"

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        norm = math.sqrt(float(np.dot(grad, grad)))
        if norm == 0.0:
            return 0.0
        eta = self.epsilon / norm
        buf = self._buf = _buffer(self._buf, v)
        np.multiply(grad, eta, out=buf)
        v -= buf
        return eta


class Armijo:
    """Backtracking line search to sufficient decrease (Armijo's rule).

    Tries η, η·shrink, η·shrink², … until C(v − η∇C) ≤ C(v) − c·η‖∇C‖², the
    quantitative form of eq. (9). Each step starts from the last accepted η
    times ``grow`` (so η can also increase), capped at ``eta_max``.

    Parameters
    ----------
    eta0 : float, default 1.0
        The first trial η.
    c : float, default 1e-4
        Sufficient-decrease constant, 0 < c < 1.
    shrink : float, default 0.5
        Backtracking factor, 0 < shrink < 1.
    grow : float, default 2.0
        Factor on the last accepted η for the next first trial (>= 1; 1
        restarts every step from the last η).
    eta_max : float, default 1e6
    max_backtracks : int, default 60
        Trials per step before giving up with :class:`~gdkit.errors.StepError`.
    """

    __slots__ = ("_buf", "_eta", "c", "eta0", "eta_max", "grow", "max_backtracks", "shrink")

    def __init__(self, eta0: float = 1.0, c: float = 1e-4, shrink: float = 0.5,
                 grow: float = 2.0, eta_max: float = 1e6, max_backtracks: int = 60) -> None:
        self.eta0 = _positive("armijo", "eta0", eta0)
        self.c = _positive("armijo", "c", c, upper=1.0)
        self.shrink = _positive("armijo", "shrink", shrink, upper=1.0)
        self.grow = _positive("armijo", "grow", grow)
        if self.grow < 1:
            raise ConfigError(f"armijo: grow must be >= 1, got {grow!r}.")
        self.eta_max = _positive("armijo", "eta_max", eta_max)
        self.max_backtracks = _integer("armijo", "max_backtracks", max_backtracks, minimum=1)
        self._eta: float | None = None
        self._buf: FloatArray | None = None

    def __repr__(self) -> str:
        return (f"Armijo(eta0={self.eta0!r}, c={self.c!r}, shrink={self.shrink!r}, "
                f"grow={self.grow!r}, eta_max={self.eta_max!r}, "
                f"max_backtracks={self.max_backtracks!r})")

    def reset(self) -> None:
        self._eta = None

    def get_state(self) -> dict[str, Any]:
        return {"eta": math.nan if self._eta is None else self._eta}

    def set_state(self, state: dict[str, Any]) -> None:
        eta = float(state["eta"])
        self._eta = None if math.isnan(eta) else eta

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        gg = float(np.dot(grad, grad))
        if gg == 0.0:
            return 0.0
        f0 = ctx.fun
        eta = self.eta0 if self._eta is None else min(self._eta * self.grow, self.eta_max)
        trial = self._buf = _buffer(self._buf, v)
        accepted = _backtrack(v, grad, ctx, trial, eta=eta, ref=f0, gg=gg, c=self.c,
                              shrink=self.shrink, tries=self.max_backtracks)
        if accepted is not None:
            self._eta = accepted
            return accepted
        last = eta * self.shrink ** (self.max_backtracks - 1)
        raise StepError(
            f"armijo: no step among {self.max_backtracks} trials (η down to {last:.3g}) "
            f"decreased C = {f0:.6g} enough; the gradient may be inaccurate (finite "
            "differences near a minimum?) or C not smooth here."
        )


class BoldDriver:
    """The bold driver: grow η after a step that lowers C, undo one that raises it.

    After a step with C(v_new) ≤ C(v), η → η·grow; otherwise the step is
    undone (v unchanged, returning η = 0) and η → η·shrink.

    Parameters
    ----------
    eta0 : float, default 0.1
    grow : float, default 1.1
    shrink : float, default 0.5
    eta_min : float, default 1e-12
        Below this η the rule gives up with :class:`~gdkit.errors.StepError`.
    """

    __slots__ = ("_buf", "_eta", "eta0", "eta_min", "grow", "shrink")

    def __init__(self, eta0: float = 0.1, grow: float = 1.1, shrink: float = 0.5,
                 eta_min: float = 1e-12) -> None:
        self.eta0 = _positive("bold-driver", "eta0", eta0)
        self.grow = _positive("bold-driver", "grow", grow)
        if self.grow < 1:
            raise ConfigError(f"bold-driver: grow must be >= 1, got {grow!r}.")
        self.shrink = _positive("bold-driver", "shrink", shrink, upper=1.0)
        self.eta_min = _positive("bold-driver", "eta_min", eta_min)
        self._eta = self.eta0
        self._buf: FloatArray | None = None

    def __repr__(self) -> str:
        return (f"BoldDriver(eta0={self.eta0!r}, grow={self.grow!r}, shrink={self.shrink!r}, "
                f"eta_min={self.eta_min!r})")

    def reset(self) -> None:
        self._eta = self.eta0

    def get_state(self) -> dict[str, Any]:
        return {"eta": self._eta}

    def set_state(self, state: dict[str, Any]) -> None:
        self._eta = float(state["eta"])

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        if self._eta < self.eta_min:
            raise StepError(f"bold-driver: η shrank below eta_min = {self.eta_min:g} without "
                            "finding a step that lowers C.")
        f0 = ctx.fun
        trial = self._buf = _buffer(self._buf, v)
        eta = self._eta
        np.multiply(grad, -eta, out=trial)
        trial += v
        ft = ctx.cost(trial)
        if math.isfinite(ft) and ft <= f0:
            v[...] = trial
            self._eta = eta * self.grow
            return eta
        self._eta = eta * self.shrink
        return 0.0


class BarzilaiBorwein:
    """Barzilai–Borwein step sizes, safeguarded by a non-monotone line search.

    With s = v_k − v_{k−1} and y = ∇C_k − ∇C_{k−1}: η = s·s / s·y ("long",
    BB1) or s·y / y·y ("short", BB2), clipped to [eta_min, eta_max]; the first
    step, and any step with s·y ≤ 0, uses the previous η (initially eta0).

    Plain BB is not monotone and can cycle far from a minimum (it does on 2-D
    Rosenbrock from the classic start). With ``memory`` = M ≥ 1 the BB η is
    only the first trial of a backtracking search that accepts

        C(v − η∇C) ≤ max(C_k, C_{k−1}, …, C_{k−M+1}) − c·η‖∇C‖²,

    Raydan's global BB (GBB) with the non-monotone rule of Grippo, Lampariello
    and Lucidi: C may still rise above the last value, which keeps BB's speed,
    but not above the worst of the last M, which rules out cycling. M = 1 is
    a monotone Armijo search from the BB trial; ``memory=0`` is plain BB (no
    extra cost evaluations). In mini-batch mode the last M costs come from
    different batches, so the safeguard is a heuristic there.

    Parameters
    ----------
    eta0 : float, default 1e-3
    variant : {"long", "short"}, default "long"
    eta_min, eta_max : float, default 1e-10, 1e10
    memory : int, default 10
        M, the number of recent costs the acceptance test compares against;
        0 turns the line search off.
    c : float, default 1e-4
        Sufficient-decrease constant, 0 < c < 1.
    shrink : float, default 0.5
        Backtracking factor, 0 < shrink < 1.
    max_backtracks : int, default 60
        Trials per step before giving up with :class:`~gdkit.errors.StepError`.

    References
    ----------
    J. Barzilai and J. M. Borwein, "Two-point step size gradient methods",
    IMA J. Numer. Anal. 8 (1988). M. Raydan, "The Barzilai and Borwein
    gradient method for the large scale unconstrained minimization problem",
    SIAM J. Optim. 7 (1997).
    """

    __slots__ = ("_eta", "_g", "_recent", "_s", "_v", "_y", "c", "eta0", "eta_max", "eta_min",
                 "max_backtracks", "memory", "shrink", "variant")

    def __init__(self, eta0: float = 1e-3, variant: str = "long", eta_min: float = 1e-10,
                 eta_max: float = 1e10, memory: int = 10, c: float = 1e-4, shrink: float = 0.5,
                 max_backtracks: int = 60) -> None:
        self.eta0 = _positive("barzilai-borwein", "eta0", eta0)
        if variant not in ("long", "short"):
            raise ConfigError(f"barzilai-borwein: variant must be 'long' or 'short', "
                              f"got {variant!r}.")
        self.variant = variant
        self.eta_min = _positive("barzilai-borwein", "eta_min", eta_min)
        self.eta_max = _positive("barzilai-borwein", "eta_max", eta_max)
        self.memory = _integer("barzilai-borwein", "memory", memory, minimum=0,
                               what=" (0: no line search)")
        self.c = _positive("barzilai-borwein", "c", c, upper=1.0)
        self.shrink = _positive("barzilai-borwein", "shrink", shrink, upper=1.0)
        self.max_backtracks = _integer("barzilai-borwein", "max_backtracks", max_backtracks,
                                       minimum=1)
        self._eta = self.eta0
        self._recent: list[float] = []  # the last `memory` costs C_k, oldest first
        self._v: FloatArray | None = None
        self._g: FloatArray | None = None
        self._s: FloatArray | None = None
        self._y: FloatArray | None = None

    def __repr__(self) -> str:
        return (f"BarzilaiBorwein(eta0={self.eta0!r}, variant={self.variant!r}, "
                f"eta_min={self.eta_min!r}, eta_max={self.eta_max!r}, memory={self.memory!r}, "
                f"c={self.c!r}, shrink={self.shrink!r}, max_backtracks={self.max_backtracks!r})")

    def reset(self) -> None:
        self._eta, self._v, self._g = self.eta0, None, None
        self._recent = []

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"eta": self._eta}
        if self._v is not None and self._g is not None:
            state["prev_v"], state["prev_grad"] = self._v.copy(), self._g.copy()
        if self._recent:
            state["recent_costs"] = np.array(self._recent, dtype=np.float64)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self._eta = float(state["eta"])
        if "prev_v" in state:
            self._v = np.array(state["prev_v"])
            self._g = np.array(state["prev_grad"])
        else:
            self._v = self._g = None
        self._recent = [float(x) for x in np.atleast_1d(state.get("recent_costs", []))]

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        if self._v is None or self._g is None or self._v.shape != v.shape:
            self._v, self._g = v.copy(), grad.copy()
            self._s, self._y = np.empty_like(v), np.empty_like(v)
        else:
            s, y = _buffer(self._s, v), _buffer(self._y, v)
            self._s, self._y = s, y
            np.subtract(v, self._v, out=s)
            np.subtract(grad, self._g, out=y)
            sy = float(np.dot(s, y))
            if sy > 0:
                eta = float(np.dot(s, s)) / sy if self.variant == "long" else sy / float(
                    np.dot(y, y))
                if math.isfinite(eta):
                    self._eta = min(max(eta, self.eta_min), self.eta_max)
            self._v[...] = v
            self._g[...] = grad
        eta = self._eta
        buf = _buffer(self._s, v)
        if self.memory == 0:  # plain BB
            np.multiply(grad, eta, out=buf)
            v -= buf
            return eta
        gg = float(np.dot(grad, grad))
        if gg == 0.0:
            return 0.0
        recent = self._recent
        recent.append(ctx.fun)
        del recent[:-self.memory]
        ref = max(recent)
        accepted = _backtrack(v, grad, ctx, buf, eta=eta, ref=ref, gg=gg, c=self.c,
                              shrink=self.shrink, tries=self.max_backtracks)
        if accepted is not None:
            return accepted
        last = eta * self.shrink ** (self.max_backtracks - 1)
        raise StepError(
            f"barzilai-borwein: no step among {self.max_backtracks} trials (η down to "
            f"{last:.3g}) decreased C below max of the last {len(recent)} costs "
            f"({ref:.6g}) enough; the gradient may be inaccurate or C not smooth here.")


@gdkit.hookimpl
def gdkit_step_rules() -> dict[str, Any]:
    return {
        "fixed": Fixed,
        "armijo": Armijo,
        "normalized": Normalized,
        "bold-driver": BoldDriver,
        "barzilai-borwein": BarzilaiBorwein,
    }
