"""
1. The cost, its gradient, and one step downhill
================================================

Learning means finding weights and biases that make a cost small. This page
builds the quadratic cost of eq. (6), checks eq. (9), ΔC ≈ ∇C·Δv, and its
promise that a small step against the gradient (eq. 10) lowers the cost, and
watches gradient descent
(eq. 10, 15) roll down the seed's valley with η too small, about right and
too large.
"""

# %%
# The quadratic cost (eq. 6)
# --------------------------
# For inputs x with desired outputs y(x) and the outputs a produced by the
# parameters v, the quadratic cost is
#
# .. math:: C(v) = \frac{1}{2n} \sum_x \lVert y(x) - a \rVert^2 .
#
# gdkit's ``quadratic`` objective is that cost for a linear model a = W x + b
# on a seeded synthetic problem (least squares); v holds W and b.
import numpy as np

import gdkit

cost = gdkit.objective("quadratic", n_samples=200, n_features=3, n_outputs=2, seed=0)
v = cost.initial_point(np.random.default_rng(0))
print(cost)
print(f"m = {cost.dim} parameters; C(v) = {cost.cost(v):.6f} at a random start")

# %%
# The gradient and ΔC ≈ ∇C·Δv (eq. 7–9, 12)
# ------------------------------------------
# Moving v by a small Δv changes the cost by ΔC ≈ ∇C·Δv (eq. 12). Choosing
# Δv = −η∇C (eq. 10) makes ΔC ≈ −η‖∇C‖² (eq. 9 with eq. 10 substituted),
# never positive. The approximation is first order, so the ratio of the true
# ΔC to −η‖∇C‖² should approach 1 as η shrinks:
g = cost.gradient(v)
print(f"‖∇C‖ = {np.linalg.norm(g):.6f}")
print("      η     true ΔC    −η‖∇C‖²    ratio")
for eta in (1e-1, 1e-2, 1e-3, 1e-4):
    delta_c = cost.cost(v - eta * g) - cost.cost(v)
    predicted = -eta * float(g @ g)
    print(f"{eta:7.0e} {delta_c:11.3e} {predicted:11.3e} {delta_c / predicted:8.5f}")

# %%
# The update rule (eq. 10, 11, 14, 15)
# ------------------------------------
# Repeating v → v' = v − η∇C is gradient descent. :func:`gdkit.minimize` runs
# that loop with the ``fixed`` step size; its history records C, ‖∇C‖ and η
# at every iteration, so we can check that C fell at every step.
res = gdkit.minimize(cost, v, step=gdkit.step_rule("fixed", eta=0.5), max_iter=200)
print(res.message)
print(f"C: {res.history['cost'][0]:.6f} → {res.fun:.6f} in {res.nit} steps")
print("C fell at every step:", bool(np.all(np.diff(res.history["cost"]) <= 0)))

# %%
# The valley: η too small, about right, too large
# -----------------------------------------------
# The seed pictures C as a valley and gradient descent as a ball rolling
# down it. gdkit's ``valley`` objective is C(v₁, v₂) = (v₁² + 5 v₂²)/2; its
# curvature is 1 along v₁ and 5 along v₂, so a fixed step shrinks the v₂
# error by the factor :math:`|1 - 5\eta|` per step and descends only for η < 2/5.
# :func:`gdkit.plot.trace` keeps every point a run visits;
# :func:`gdkit.plot.valley` draws the surface, its contours and the paths.
import gdkit.plot

start = [1.5, -1.0]
runs = [
    gdkit.plot.trace("valley", start, gdkit.step_rule("fixed", eta=eta), label=f"η = {eta}",
                     max_iter=30)
    for eta in (0.05, 0.35, 0.42)
]
for t in runs:
    print(f"{t.label}: C from {t.costs[0]:.3f} to {t.final_cost:.3g} in {len(t.points) - 1} "
          f"steps{' (rose)' if t.rose else ''}")
valley_fig = gdkit.plot.valley("valley", runs)

# %%
# With η = 0.05 the ball creeps: the v₁ error shrinks by only 5% a step.
# With η = 0.35 it zig-zags across the narrow direction (:math:`|1 - 5 \cdot 0.35| = 0.75`)
# but gets down. With η = 0.42, :math:`|1 - 5 \cdot 0.42| = 1.1 > 1`: each step overshoots
# further, and C rises, the failure eq. (9) warns of when η is not small.
#
# The same runs as learning curves: C and ‖∇C‖ per iteration, on log axes.
curve_fig = gdkit.plot.curves([t.result for t in runs], labels=[t.label for t in runs])
