"""The Moré–Garbow–Hillstrom unconstrained minimization problems.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
optimization software", ACM Trans. Math. Softw. 7(1), 17–41 (1981): the
problems of its section "unconstrained minimization", with the paper's
standard starting points and its reported minimum values. Each is a sum of
squares, C(v) = Σᵢ fᵢ(v)², written here as the residuals f(v) and their
Jacobian J(v) by hand, so ∇C = 2Jᵀf exactly (no differentiation library).

Seventeen of the paper's eighteen: Chebyquad (35) is left out (its minimum
value depends on n and the paper lists it only for some n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Problem:
    """A sum of squares C(v) = ‖f(v)‖² with its Jacobian, start and minima.

    ``minima`` holds the minimum values the paper reports (a problem with a
    local minimum the paper names lists both)."""

    number: int  # the paper's number
    name: str
    n: int
    x0: tuple[float, ...]
    residual: Callable[[Array], Array]
    jacobian: Callable[[Array], Array]
    minima: tuple[float, ...]

    @property
    def dim(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"MGH{self.number}({self.name}, n={self.n})"

    def cost(self, v: Array, batch: Any = None) -> float:
        r = self.residual(v)
        return float(r @ r)

    def gradient(self, v: Array, batch: Any = None, out: Array | None = None) -> Array:
        g = 2.0 * (self.jacobian(v).T @ self.residual(v))
        if out is None:
            return g
        out[...] = g
        return out

    def solved_value(self, f: float) -> bool:
        """Whether ``f`` is one of the reported minimum values (to their six
        printed digits)."""
        return any(abs(f - m) <= 1e-5 * abs(m) + 1e-8 for m in self.minima)


# -- (7) helical valley -------------------------------------------------------------
def _theta(x1: float, x2: float) -> float:
    t = math.atan(x2 / x1) / (2 * math.pi) if x1 != 0 else 0.25 * math.copysign(1.0, x2)
    return t + 0.5 if x1 < 0 else t


def _helical_r(x: Array) -> Array:
    rad = math.hypot(x[0], x[1])
    return np.array([10 * (x[2] - 10 * _theta(x[0], x[1])), 10 * (rad - 1), x[2]])


def _helical_j(x: Array) -> Array:
    r2 = x[0] ** 2 + x[1] ** 2
    rad = math.sqrt(r2)
    dt1, dt2 = -x[1] / (2 * math.pi * r2), x[0] / (2 * math.pi * r2)
    return np.array([[-100 * dt1, -100 * dt2, 10.0],
                     [10 * x[0] / rad, 10 * x[1] / rad, 0.0],
                     [0.0, 0.0, 1.0]])


# -- (18) Biggs EXP6 ------------------------------------------------------------------
_BT = 0.1 * np.arange(1, 14)
_BY = np.exp(-_BT) - 5 * np.exp(-10 * _BT) + 3 * np.exp(-4 * _BT)


def _biggs_r(x: Array) -> Array:
    t = _BT
    return (x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1]) + x[5] * np.exp(-t * x[4])
            - _BY)


def _biggs_j(x: Array) -> Array:
    t = _BT
    e1, e2, e5 = np.exp(-t * x[0]), np.exp(-t * x[1]), np.exp(-t * x[4])
    return np.column_stack([-t * x[2] * e1, t * x[3] * e2, e1, -e2, -t * x[5] * e5, e5])


# -- (9) Gaussian -----------------------------------------------------------------------
_GT = (8 - np.arange(1, 16)) / 2
_GY = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521,
                0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])


def _gauss_r(x: Array) -> Array:
    return x[0] * np.exp(-x[1] * (_GT - x[2]) ** 2 / 2) - _GY


def _gauss_j(x: Array) -> Array:
    u = _GT - x[2]
    e = np.exp(-x[1] * u ** 2 / 2)
    return np.column_stack([e, -x[0] * e * u ** 2 / 2, x[0] * e * x[1] * u])


# -- (3) Powell badly scaled -----------------------------------------------------------
def _pbs_r(x: Array) -> Array:
    return np.array([1e4 * x[0] * x[1] - 1, np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])


def _pbs_j(x: Array) -> Array:
    return np.array([[1e4 * x[1], 1e4 * x[0]], [-np.exp(-x[0]), -np.exp(-x[1])]])


# -- (12) Box three-dimensional (m = 10) -----------------------------------------------
_XT = 0.1 * np.arange(1, 11)


def _box_r(x: Array) -> Array:
    t = _XT
    return np.exp(-t * x[0]) - np.exp(-t * x[1]) - x[2] * (np.exp(-t) - np.exp(-10 * t))


def _box_j(x: Array) -> Array:
    t = _XT
    return np.column_stack([-t * np.exp(-t * x[0]), t * np.exp(-t * x[1]),
                            -(np.exp(-t) - np.exp(-10 * t))])


# -- (25) variably dimensioned (n = 10) ------------------------------------------------
def _vd_r(x: Array) -> Array:
    j = np.arange(1, x.size + 1)
    s = float(j @ (x - 1))
    return np.concatenate([x - 1, [s, s * s]])


def _vd_j(x: Array) -> Array:
    n = x.size
    j = np.arange(1, n + 1, dtype=float)
    s = float(j @ (x - 1))
    return np.vstack([np.eye(n), j, 2 * s * j])


# -- (20) Watson (n = 9) ---------------------------------------------------------------
_WT = np.arange(1, 30) / 29


def _watson_r(x: Array) -> Array:
    n = x.size
    t = _WT[:, None]
    p = t ** np.arange(n)  # t^(j-1), j = 1..n
    s1 = (p[:, :-1] * np.arange(1, n)) @ x[1:]  # Σ_{j≥2} (j−1) x_j t^(j−2)
    s2 = p @ x
    return np.concatenate([s1 - s2 ** 2 - 1, [x[0], x[1] - x[0] ** 2 - 1]])


def _watson_j(x: Array) -> Array:
    n = x.size
    t = _WT[:, None]
    p = t ** np.arange(n)
    s2 = p @ x
    d1 = np.zeros((29, n))
    d1[:, 1:] = p[:, :-1] * np.arange(1, n)
    jac = d1 - 2 * s2[:, None] * p
    last = np.zeros((2, n))
    last[0, 0] = 1.0
    last[1, 0], last[1, 1] = -2 * x[0], 1.0
    return np.vstack([jac, last])


# -- (23) penalty I (n = 10) -----------------------------------------------------------
_A = 1e-5


def _pen1_r(x: Array) -> Array:
    return np.concatenate([math.sqrt(_A) * (x - 1), [x @ x - 0.25]])


def _pen1_j(x: Array) -> Array:
    return np.vstack([math.sqrt(_A) * np.eye(x.size), 2 * x])


# -- (24) penalty II (n = 10) ----------------------------------------------------------
def _pen2_r(x: Array) -> Array:
    n = x.size
    a = math.sqrt(_A)
    i = np.arange(2, n + 1)
    y = np.exp(i / 10) + np.exp((i - 1) / 10)
    e = np.exp(x / 10)
    mid = a * (e[1:] + e[:-1] - y)
    tail = a * (e[1:] - math.exp(-0.1))  # i = n+1 .. 2n-1: x_{i-n+1} = x_2 .. x_n
    last = float((n - np.arange(n)) @ (x * x)) - 1
    return np.concatenate([[x[0] - 0.2], mid, tail, [last]])


def _pen2_j(x: Array) -> Array:
    n = x.size
    a = math.sqrt(_A)
    e = np.exp(x / 10) / 10
    jac = np.zeros((2 * n, n))
    jac[0, 0] = 1.0
    k = np.arange(1, n)
    jac[k, k] = a * e[1:]
    jac[k, k - 1] = a * e[:-1]
    jac[n - 1 + k, k] = a * e[1:]
    jac[2 * n - 1] = 2 * (n - np.arange(n)) * x
    return jac


# -- (4) Brown badly scaled ------------------------------------------------------------
def _bbs_r(x: Array) -> Array:
    return np.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


def _bbs_j(x: Array) -> Array:
    return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])


# -- (16) Brown and Dennis (m = 20) ----------------------------------------------------
_DT = np.arange(1, 21) / 5


def _bd_r(x: Array) -> Array:
    t = _DT
    u = x[0] + t * x[1] - np.exp(t)
    w = x[2] + x[3] * np.sin(t) - np.cos(t)
    return u * u + w * w


def _bd_j(x: Array) -> Array:
    t = _DT
    u = x[0] + t * x[1] - np.exp(t)
    w = x[2] + x[3] * np.sin(t) - np.cos(t)
    return np.column_stack([2 * u, 2 * u * t, 2 * w, 2 * w * np.sin(t)])


# -- (11) Gulf research and development (m = 99) ---------------------------------------
_UT = np.arange(1, 100) / 100
_UY = 25 + (-50 * np.log(_UT)) ** (2 / 3)


def _gulf_r(x: Array) -> Array:
    q = np.abs(_UY - x[1])
    return np.exp(-q ** x[2] / x[0]) - _UT


def _gulf_j(x: Array) -> Array:
    diff = _UY - x[1]
    q = np.abs(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        qp = q ** x[2]
        e = np.exp(-qp / x[0])
        d0 = e * qp / x[0] ** 2
        d1 = np.where(q > 0, e * x[2] * q ** (x[2] - 1) * np.sign(diff) / x[0], 0.0)
        d2 = np.where(q > 0, -e * qp * np.log(np.where(q > 0, q, 1.0)) / x[0], 0.0)
    return np.column_stack([d0, d1, d2])


# -- (26) trigonometric (n = 10) -------------------------------------------------------
def _trig_r(x: Array) -> Array:
    n = x.size
    i = np.arange(1, n + 1)
    return n - np.sum(np.cos(x)) + i * (1 - np.cos(x)) - np.sin(x)


def _trig_j(x: Array) -> Array:
    n = x.size
    i = np.arange(1, n + 1)
    jac = np.tile(np.sin(x), (n, 1))
    jac[np.arange(n), np.arange(n)] += i * np.sin(x) - np.cos(x)
    return jac


# -- (21) extended Rosenbrock (n = 10) -------------------------------------------------
def _erosen_r(x: Array) -> Array:
    r = np.empty_like(x)
    r[0::2] = 10 * (x[1::2] - x[0::2] ** 2)
    r[1::2] = 1 - x[0::2]
    return r


def _erosen_j(x: Array) -> Array:
    n = x.size
    jac = np.zeros((n, n))
    k = np.arange(0, n, 2)
    jac[k, k] = -20 * x[k]
    jac[k, k + 1] = 10.0
    jac[k + 1, k] = -1.0
    return jac


# -- (22) extended Powell singular (n = 12) --------------------------------------------
def _epowell_r(x: Array) -> Array:
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    r = np.empty_like(x)
    r[0::4] = a + 10 * b
    r[1::4] = math.sqrt(5) * (c - d)
    r[2::4] = (b - 2 * c) ** 2
    r[3::4] = math.sqrt(10) * (a - d) ** 2
    return r


def _epowell_j(x: Array) -> Array:
    n = x.size
    jac = np.zeros((n, n))
    for k in range(0, n, 4):
        a, b, c, d = x[k:k + 4]
        jac[k, k], jac[k, k + 1] = 1.0, 10.0
        jac[k + 1, k + 2], jac[k + 1, k + 3] = math.sqrt(5), -math.sqrt(5)
        jac[k + 2, k + 1], jac[k + 2, k + 2] = 2 * (b - 2 * c), -4 * (b - 2 * c)
        jac[k + 3, k], jac[k + 3, k + 3] = (2 * math.sqrt(10) * (a - d),
                                            -2 * math.sqrt(10) * (a - d))
    return jac


# -- (5) Beale -------------------------------------------------------------------------
_EY = np.array([1.5, 2.25, 2.625])
_EI = np.arange(1, 4)


def _beale_r(x: Array) -> Array:
    return _EY - x[0] * (1 - x[1] ** _EI)


def _beale_j(x: Array) -> Array:
    return np.column_stack([-(1 - x[1] ** _EI), x[0] * _EI * x[1] ** (_EI - 1)])


# -- (14) Wood -------------------------------------------------------------------------
def _wood_r(x: Array) -> Array:
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0], math.sqrt(90) * (x[3] - x[2] ** 2),
                     1 - x[2], math.sqrt(10) * (x[1] + x[3] - 2),
                     (x[1] - x[3]) / math.sqrt(10)])


def _wood_j(x: Array) -> Array:
    s90, s10 = math.sqrt(90), math.sqrt(10)
    return np.array([[-20 * x[0], 10, 0, 0], [-1, 0, 0, 0], [0, 0, -2 * s90 * x[2], s90],
                     [0, 0, -1, 0], [0, s10, 0, s10], [0, 1 / s10, 0, -1 / s10]], dtype=float)


PROBLEMS: tuple[Problem, ...] = (
    Problem(7, "helical valley", 3, (-1.0, 0.0, 0.0), _helical_r, _helical_j, (0.0,)),
    Problem(18, "Biggs EXP6", 6, (1.0, 2.0, 1.0, 1.0, 1.0, 1.0), _biggs_r, _biggs_j,
            (0.0, 5.65565e-3)),
    Problem(9, "Gaussian", 3, (0.4, 1.0, 0.0), _gauss_r, _gauss_j, (1.12793e-8,)),
    Problem(3, "Powell badly scaled", 2, (0.0, 1.0), _pbs_r, _pbs_j, (0.0,)),
    Problem(12, "Box 3-D", 3, (0.0, 10.0, 20.0), _box_r, _box_j, (0.0,)),
    Problem(25, "variably dimensioned", 10, tuple(1 - j / 10 for j in range(1, 11)),
            _vd_r, _vd_j, (0.0,)),
    Problem(20, "Watson", 9, (0.0,) * 9, _watson_r, _watson_j, (1.39976e-6,)),
    Problem(23, "penalty I", 10, tuple(float(j) for j in range(1, 11)), _pen1_r, _pen1_j,
            (7.08765e-5,)),
    Problem(24, "penalty II", 10, (0.5,) * 10, _pen2_r, _pen2_j, (2.93660e-4,)),
    Problem(4, "Brown badly scaled", 2, (1.0, 1.0), _bbs_r, _bbs_j, (0.0,)),
    Problem(16, "Brown and Dennis", 4, (25.0, 5.0, -5.0, -1.0), _bd_r, _bd_j, (85822.2,)),
    Problem(11, "Gulf research", 3, (5.0, 2.5, 0.15), _gulf_r, _gulf_j, (0.0,)),
    Problem(26, "trigonometric", 10, (0.1,) * 10, _trig_r, _trig_j, (0.0, 2.79506e-5)),
    Problem(21, "extended Rosenbrock", 10, (-1.2, 1.0) * 5, _erosen_r, _erosen_j, (0.0,)),
    Problem(22, "extended Powell", 12, (3.0, -1.0, 0.0, 1.0) * 3, _epowell_r, _epowell_j,
            (0.0,)),
    Problem(5, "Beale", 2, (1.0, 1.0), _beale_r, _beale_j, (0.0,)),
    Problem(14, "Wood", 4, (-3.0, -1.0, -3.0, -1.0), _wood_r, _wood_j, (0.0,)),
)
