"""
2. Choosing η: adaptive steps, the normalized step and momentum
===============================================================

A fixed η must be small enough for the steepest direction of the cost and is
then too small for the others. This page tries the step rules gdkit builds
from the seed's two ideas, a direction d (−∇C, possibly reshaped) and a step
size η along it, on the valley and on Rosenbrock's banana.
"""

# %%
# Adaptive η: a line search
# -------------------------
# ``armijo`` starts from a large η and halves it until the step lowers C by a
# fixed fraction of what eq. (9) predicts, ΔC ≤ c·η·∇C·d; ``bold-driver``
# grows η after a good step and cuts it after a bad one. Neither needs η
# chosen by hand.
import numpy as np

import gdkit
import gdkit.plot

start = [1.5, -1.0]
adaptive = [gdkit.plot.trace("valley", start, name, label=name, max_iter=30)
            for name in ("armijo", "bold-driver")]
for t in adaptive:
    print(f"{t.label}: {t.message}; C = {t.final_cost:.3g}")

# %%
# The normalized step: the steepest move of length ε
# --------------------------------------------------
# Among all moves Δv of a fixed length ‖Δv‖ = ε, which lowers C the most?
# To first order ΔC ≈ ∇C·Δv, and by the Cauchy–Schwarz inequality
# ∇C·Δv ≥ −‖∇C‖ ‖Δv‖ = −ε‖∇C‖, with equality exactly when Δv points along
# −∇C. So Δv = −ε∇C/‖∇C‖, that is η = ε/‖∇C‖, is the steepest move of
# length ε (the seed's last paragraph). A check against a thousand random
# directions of the same length:
valley = gdkit.objective("valley")
v = np.array(start)
g = valley.gradient(v)
eps = 0.1
best = -eps * g / np.linalg.norm(g)
rng = np.random.default_rng(0)
dirs = rng.standard_normal((1000, 2))
moves = eps * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
print(f"∇C·Δv for Δv = −ε∇C/‖∇C‖: {g @ best:.6f} (−ε‖∇C‖ = {-eps * np.linalg.norm(g):.6f})")
closest = (moves @ g).min()
print(f"smallest ∇C·Δv over 1000 random moves of length ε: {closest:.6f}, "
      f"{closest - g @ best:.1e} above it; none below: {bool(np.all(moves @ g >= g @ best))}")

# %%
# The ball with momentum
# ----------------------
# The seed's ball "has momentum": the ``momentum`` transform turns the
# direction into a running sum d ← β d − ∇C before the step size moves along
# it. On the valley that carries the ball along the gentle v₁ direction while
# the oscillations across v₂ partly cancel.
rules = {
    "fixed, η = 0.05": gdkit.step_rule("fixed", eta=0.05),
    "momentum β = 0.5, η = 0.05": gdkit.step_rule("momentum(beta=0.5),fixed(eta=0.05)"),
    "normalized, ε = 0.2": gdkit.step_rule("normalized", epsilon=0.2),
    "armijo": gdkit.step_rule("armijo"),
}
paths = [gdkit.plot.trace("valley", start, rule, label=label, max_iter=30)
         for label, rule in rules.items()]
for t in paths:
    print(f"{t.label}: C = {t.final_cost:.3g} after {len(t.points) - 1} steps")
valley_fig = gdkit.plot.valley("valley", paths)

# %%
# The normalized step keeps its length ε, so it cannot settle closer to the
# minimum than about ε: it ends hopping around (0, 0). Momentum with η = 0.05
# gets further than η = 0.05 alone in the same 30 steps.
#
# Rosenbrock's banana
# -------------------
# C(v) = (1 − v₁)² + 100 (v₂ − v₁²)² has its minimum at (1, 1) at the end of
# a long curved valley: the fixed step that is stable across the valley is
# tiny along it. Contours on a log scale (the cost spans many decades).
rosen = gdkit.objective("rosenbrock", dim=2)
banana = [
    gdkit.plot.trace(rosen, [-1.2, 1.0], gdkit.step_rule("fixed", eta=0.001),
                     label="fixed, η = 0.001", max_iter=3000),
    gdkit.plot.trace(rosen, [-1.2, 1.0], "armijo", label="armijo", max_iter=3000),
    gdkit.plot.trace(rosen, [-1.2, 1.0], "momentum(beta=0.9),fixed(eta=0.001)",
                     label="momentum β = 0.9, η = 0.001", max_iter=3000),
    gdkit.plot.trace(rosen, [-1.2, 1.0], "lbfgs,wolfe", label="lbfgs,wolfe", max_iter=3000),
]
for t in banana:
    print(f"{t.label}: C = {t.final_cost:.3g} at {np.round(t.points[-1], 4).tolist()} "
          f"({len(t.points) - 1} steps)")
banana_fig = gdkit.plot.valley(rosen, banana, surface=False)

# %%
# Curvature without m² numbers
# ----------------------------
# The seed turns down Newton's method because second derivatives cost m²
# numbers. ``lbfgs`` estimates the curvature from how ∇C changed along the
# last k steps (2k·m numbers) and bends the direction with it, d ← −H∇C;
# ``wolfe`` picks η along that direction, trying η = 1 first and accepting a
# step that lowers C enough and flattens the slope (the Wolfe conditions),
# which is what keeps the curvature estimate sound. On the banana it follows
# the curved valley in a few dozen steps where the others take thousands.
quasi = banana[-1]
print(f"lbfgs,wolfe: {len(quasi.points) - 1} steps to C = {quasi.final_cost:.3g}")
