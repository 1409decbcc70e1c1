"""gdkit.plot and ``gdkit plot``: every picture rendered headless, and checked
to show the right data (the artists' data, not only that a file exists)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plot extra: tox's py3* envs install it")

import gdkit_plugins.network.images as gi

import gdkit
import gdkit.plot as gp
from gdkit.cli import main
from gdkit.errors import ConfigError, DataError, MissingExtraError, ShapeError

from .test_train_cli import gdkit_cmd

START = np.array([1.5, -1.0])


def run_gdkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gdkit_cmd(), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def contour_paths(fig: Any) -> list[Any]:
    """The path lines of a valley figure's contour axes (labelled, not the markers)."""
    ax = fig.axes[-1]
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith(("_", "start"))]


# -- the valley and the ball ------------------------------------------------------------

def test_a_trace_starts_at_v0_and_ends_at_the_results_x() -> None:
    t = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.1), max_iter=20)
    assert t.result is not None and not t.diverged and not t.rose
    np.testing.assert_array_equal(t.points[0], START)
    np.testing.assert_array_equal(t.points[-1], t.result.x)
    assert len(t.points) == t.result.nit + 1 == 21
    obj = gdkit.objective("valley")
    np.testing.assert_allclose(t.costs, [obj.cost(v) for v in t.points])
    assert t.final_cost == t.result.fun
    assert np.all(np.diff(t.costs) <= 0)  # eq. (9): a small η only descends


def test_a_diverging_trace_ends_at_its_last_finite_point_and_says_so() -> None:
    t = gp.trace("rosenbrock", [-1.2, 1.0], gdkit.step_rule("fixed", eta=0.1), max_iter=50)
    assert t.diverged and t.rose and t.result is None
    assert "diverged" in t.legend and "became" in t.message
    assert np.all(np.isfinite(t.points)) and np.all(np.isfinite(t.costs))
    np.testing.assert_array_equal(t.points[0], [-1.2, 1.0])


def test_an_eta_too_large_rises_and_the_legend_says_so() -> None:
    t = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.42), max_iter=30)
    assert not t.diverged and t.rose and t.legend.endswith("(rose)")


def test_the_valley_draws_each_path_exactly_with_its_label_and_final_cost() -> None:
    traces = [gp.trace("valley", START, gdkit.step_rule("fixed", eta=eta), label=f"η={eta}",
                       max_iter=15) for eta in (0.05, 0.35)]
    traces.append(gp.trace("valley", START, "armijo", max_iter=15))
    fig = gp.valley("valley", traces)
    assert len(fig.axes) == 2 and fig.axes[0].name == "3d"
    lines = contour_paths(fig)
    assert [ln.get_label() for ln in lines] == [t.legend for t in traces]
    for ln, t in zip(lines, traces, strict=True):
        np.testing.assert_array_equal(ln.get_xdata(), t.points[:, 0])
        np.testing.assert_array_equal(ln.get_ydata(), t.points[:, 1])
    assert traces[2].legend.startswith("armijo: C = ")
    # the 3-D ball follows the same points at height C
    for ln3, t in zip(fig.axes[0].get_lines(), traces, strict=True):
        xs, ys, zs = ln3.get_data_3d()
        np.testing.assert_array_equal(ys, t.points[:, 1])
        np.testing.assert_array_equal(zs, t.costs)
        np.testing.assert_array_equal(xs, t.points[:, 0])


def test_contours_only_and_explicit_bounds() -> None:
    fig = gp.valley("valley", surface=False, bounds=(-1, 2, -3, 4))
    (ax,) = fig.axes
    assert ax.get_xlim() == (-1, 2) and ax.get_ylim() == (-3, 4)


def test_default_bounds_follow_the_paths_that_descend_not_the_one_that_rose() -> None:
    calm = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.05), max_iter=10)
    wild = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.45), max_iter=30)
    assert np.abs(wild.points).max() > 100
    x0, x1 = gp.valley("valley", [calm, wild], surface=False).axes[0].get_xlim()
    assert x0 <= calm.points[:, 0].min() and x1 >= calm.points[:, 0].max() and x1 < 10


@pytest.mark.parametrize("obj", [gdkit.objective("rosenbrock", dim=3), "quadratic"])
def test_a_valley_needs_two_variables(obj: Any) -> None:
    with pytest.raises(ShapeError, match="two variables"):
        gp.valley(obj)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ShapeError, match="min < max"):
        gp.valley("valley", bounds=(1, 0, 0, 1))


def test_inside_cuts_a_path_where_it_crosses_the_edge() -> None:
    from gdkit.plot.valley import inside

    box = (-1.0, 1.0, -1.0, 1.0)
    path = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 3.0], [9.0, 9.0]])
    shown, left = inside(path, box)
    assert left == 2
    np.testing.assert_array_equal(shown, [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0]])
    slanted, _ = inside(np.array([[0.0, 0.0], [4.0, 2.0]]), box)
    np.testing.assert_allclose(slanted[-1], [1.0, 0.5])  # the x edge comes first
    whole, never = inside(path[:2], box)
    assert never is None and whole.shape == (2, 2)


def test_a_path_that_leaves_the_view_is_drawn_to_the_edge_and_marked() -> None:
    calm = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.05), max_iter=10)
    wild = gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.45), max_iter=30)
    fig = gp.valley("valley", [calm, wild], surface=False)
    (ax,) = fig.axes
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    outside = ((wild.points[:, 0] < x0) | (wild.points[:, 0] > x1)
               | (wild.points[:, 1] < y0) | (wild.points[:, 1] > y1))
    k = int(np.argmax(outside))
    assert outside.any() and k > 0
    line = contour_paths(fig)[1]
    assert line.get_label() == f"{wild.legend}, left the view at step {k}"
    xs, ys = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    np.testing.assert_array_equal(xs[:-1], wild.points[:k, 0])
    assert len(xs) == k + 1
    assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1
    assert np.isclose(xs[-1], [x0, x1]).any() or np.isclose(ys[-1], [y0, y1]).any()
    exits = [ln for ln in ax.get_lines() if ln.get_marker() == "D"]
    assert [(e.get_xdata()[0], e.get_ydata()[0]) for e in exits] == [(xs[-1], ys[-1])]
    assert (ax.get_xlim(), ax.get_ylim()) == ((x0, x1), (y0, y1))


def test_the_valley_is_drawn_on_equal_axes_unless_the_region_is_a_thin_strip() -> None:
    assert gp.valley("valley", surface=False).axes[0].get_aspect() == 1.0
    assert gp.valley("valley", surface=False, bounds=(-1, 2, -3, 40)).axes[0].get_aspect() \
        == "auto"
    assert gp.valley("valley", surface=False, equal=False).axes[0].get_aspect() == "auto"


@pytest.mark.parametrize(("name", "minimum"), [("valley", (0.0, 0.0)), ("rosenbrock", (1.0, 1.0))])
def test_plot_valley_at_its_defaults_converges_with_the_minimum_in_view(
        name: str, minimum: tuple[float, float], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Any] = []
    real = gp.valley
    monkeypatch.setattr(gp, "valley", lambda *a, **k: drawn.append((a, real(*a, **k)))
                        or drawn[-1][1])
    assert main(["plot", "valley", name, "--out", str(tmp_path / "v.png")]) == 0
    (args, fig), = drawn
    traces = args[1]
    assert len(traces) >= 3
    assert all(t.result is not None and t.result.success for t in traces), \
        [t.legend for t in traces]
    ax = fig.axes[-1]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < minimum[0] < x1 and y0 < minimum[1] < y1
    assert ax.get_aspect() == 1.0
    steps = {t.label: t.steps for t in traces}
    assert steps["momentum(beta=0.3),armijo"] < steps["armijo"]  # the default β helps here


# -- learning curves --------------------------------------------------------------------

def write_log(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROWS = [{"epoch": e, "cost": c, "accuracy": a, "eta": 3.0, "seconds": 0.5, "correct": 1, "total": 2}
        for e, c, a in ((1, 0.3, 0.8), (2, 0.2, 0.9), (3, 0.15, 0.925))]


def test_read_log_gives_one_value_per_logged_epoch(tmp_path: Path) -> None:
    cols = read = gp.read_log(write_log(tmp_path / "a.jsonl", ROWS))
    assert list(read["epoch"]) == [1, 2, 3] and list(cols["accuracy"]) == [0.8, 0.9, 0.925]


def test_a_curve_has_one_point_per_epoch_with_the_logged_values(tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.jsonl", [{**r, "eta": 3.0 / r["epoch"]} for r in ROWS])
    fig = gp.curves([log])
    acc, cost, eta = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy (%)", "training cost C",
                                                    "step size η"]
    (line,) = acc.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), [80.0, 90.0, 92.5])
    np.testing.assert_array_equal(cost.get_lines()[0].get_ydata(), [0.3, 0.2, 0.15])
    np.testing.assert_allclose(eta.get_lines()[0].get_ydata(), [3.0, 1.5, 1.0])
    assert cost.get_yscale() == "log" and eta.get_yscale() == "log"


VAL = [0.82, 0.93, 0.93, 0.91]  # the best, 93%, first at epoch 2 (and again at 3)


def test_validation_is_drawn_beside_test_accuracy_with_its_best_epoch_starred(
        tmp_path: Path) -> None:
    rows = [{**r, "val_accuracy": v} for r, v in zip([*ROWS, {**ROWS[-1], "epoch": 4}], VAL,
                                                      strict=True)]
    (acc, _cost) = gp.curves([write_log(tmp_path / "a.jsonl", rows)]).axes
    test, val, star = (ln for ln in acc.get_lines() if not ln.get_label().startswith("_"))
    assert test.get_linestyle() == "-" and val.get_linestyle() == "--"
    assert test.get_color() == val.get_color() == star.get_color()
    np.testing.assert_allclose(val.get_ydata(), [82.0, 93.0, 93.0, 91.0])
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (2, 93.0)
    assert star.get_marker() == "*"
    assert [t.get_text() for t in acc.get_legend().get_texts()] == [
        "test (a.jsonl, η = 3)", "validation (a.jsonl, η = 3)",
        "best validation, epoch 2 (test 90.00%)"]
    (rule,) = [ln for ln in acc.get_lines() if ln.get_linestyle() == ":"]
    assert list(rule.get_xdata()) == [2, 2]


def test_a_constant_eta_gets_no_panel_and_is_named_in_the_legend(tmp_path: Path) -> None:
    fig = gp.curves([write_log(tmp_path / "a.jsonl", ROWS)])
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy (%)", "training cost C"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "test (a.jsonl, η = 3)"]
    varied = write_log(tmp_path / "b.jsonl", [{**r, "eta": 3.0 / r["epoch"]} for r in ROWS])
    both = gp.curves([write_log(tmp_path / "a.jsonl", ROWS), varied])
    assert [ax.get_ylabel() for ax in both.axes][-1] == "step size η"  # one run varies it


def test_several_logs_are_overlaid_and_labelled(tmp_path: Path) -> None:
    logs = [write_log(tmp_path / f"eta{e}.jsonl",
                      [{**r, "accuracy": r["accuracy"] * k} for r in ROWS])
            for k, e in ((1.0, "0.025"), (0.5, "0.25"), (0.25, "2.5"))]
    fig = gp.curves(logs)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == [f"eta{e}.jsonl, η = 3: test"
                                                for e in ("0.025", "0.25", "2.5")]
    np.testing.assert_allclose(lines[2].get_ydata(), [20.0, 22.5, 23.125])
    labelled = gp.curves(logs, labels=["a", "b", "c"])
    assert [t.get_text() for t in labelled.axes[0].get_legend().get_texts()] == [
        "a, η = 3: test", "b, η = 3: test", "c, η = 3: test"]


def test_a_full_batch_result_draws_cost_eta_and_gradient_norm_per_iteration() -> None:
    res = gdkit.minimize("valley", START, step="armijo", max_iter=20)
    fig = gp.curves([res])
    assert [ax.get_ylabel() for ax in fig.axes] == ["training cost C", "step size η", "‖∇C‖"]
    line = fig.axes[2].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(res.history.rows))
    np.testing.assert_array_equal(line.get_ydata(), res.history["grad_norm"])
    assert fig.axes[0].get_xlabel() == "iteration"


@pytest.mark.parametrize(("text", "why"), [
    ("", "holds no epochs"),
    ("not json\n", "line 1: not JSON"),
    ('{"epoch": 1, "cost": 1}\n[1, 2]\n', "line 2: no integer 'epoch'"),
    ('{"cost": 1}\n', "line 1: no integer 'epoch'"),
])
def test_a_log_that_is_not_gdkits_is_a_clear_error(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=why):
        gp.read_log(path)


def test_a_missing_log_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cannot read the training log .*nope\.jsonl"):
        gp.read_log(tmp_path / "nope.jsonl")


# -- a classifier's pictures ------------------------------------------------------------

def test_the_digit_grid_shows_exactly_the_images_given_with_their_labels() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((13, 784))
    true, pred = rng.integers(0, 10, 13), rng.integers(0, 10, 13)
    fig = gi.digits(images, true, pred, ncols=5)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 13 and len(fig.axes) == 15  # 3 rows of 5, two empty
    for ax, img, t, p in zip(shown, images, true, pred, strict=True):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), img.reshape(28, 28))
        assert ax.get_title() == f"{t} → {p}"


def test_digits_need_as_many_labels_as_images() -> None:
    with pytest.raises(ShapeError, match="3 images need as many labels"):
        gi.digits(np.zeros((3, 784)), [1, 2])
    with pytest.raises(ShapeError, match="rows of 784 pixels"):
        gi.digits(np.zeros((3, 100)), [1, 2, 3])


def test_the_confusion_matrix_writes_every_count_in_its_cell() -> None:
    m = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    fig = gp.confusion(m)
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}
    assert cells == {(i, j): str(m[i, j]) for i in range(3) for j in range(3)}
    assert ax.get_title() == "21 / 25 right (84.00%)"
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    with pytest.raises(ShapeError, match="square"):
        gp.confusion(np.zeros((2, 3)))


def test_each_hidden_neuron_is_drawn_as_its_28_by_28_weights() -> None:
    w = np.random.default_rng(1).normal(size=(4, 784))
    fig = gi.weights(w)
    shown = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(shown) == 4
    for im, row in zip(shown, w, strict=True):
        np.testing.assert_array_equal(im.get_array(), row.reshape(28, 28))
        assert im.get_clim() == (-np.abs(row).max(), np.abs(row).max())


def test_the_weight_grid_has_a_colour_bar_that_says_what_red_and_blue_mean() -> None:
    fig = gi.weights(np.random.default_rng(1).normal(size=(4, 784)))
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [t.get_text() for t in bar.get_xticklabels()] == [
        "blue: ink here inhibits", "0: no effect", "red: ink here excites"]
    assert bar.get_xlabel() == "a pixel's weight, as a fraction of its neuron's largest |weight|"
    from matplotlib.collections import QuadMesh

    (gradient,) = [c for c in bar.collections if isinstance(c, QuadMesh)]
    assert gradient.cmap.name == "RdBu_r" == fig.axes[0].get_images()[0].cmap.name
    assert gradient.norm.vmin == -1.0 and gradient.norm.vmax == 1.0


# -- files ------------------------------------------------------------------------------

@pytest.mark.parametrize(("ext", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                            (".pdf", b"%PDF")])
def test_save_writes_the_format_its_extension_names(tmp_path: Path, ext: str,
                                                     magic: bytes) -> None:
    path = gp.save(gp.valley("valley", surface=False), tmp_path / f"v{ext}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"v{ext}"]  # nothing left beside it


def test_save_refuses_a_name_without_a_picture_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no extension, which names no picture format"):
        gp.save(gp.valley("valley", surface=False), tmp_path / "picture")


def test_without_matplotlib_drawing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'gdkit\[plot\]'"):
        gp.valley("valley")


def test_importing_gdkit_and_listing_plugins_never_imports_matplotlib() -> None:
    code = ("import sys, gdkit, gdkit.plot; from gdkit.cli import main; "
            "main(['plugins']); main(['--help']) if False else None; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


# -- the command ------------------------------------------------------------------------

def test_plot_valley_draws_the_paths_the_library_draws(tmp_path: Path) -> None:
    out = tmp_path / "valley.png"
    proc = run_gdkit("plot", "valley", "--v0", "1.5", "-1", "--step", "fixed:eta=0.05",
                     "--step", "momentum,fixed:eta=0.05:momentum.beta=0.5", "--max-iter", "12",
                     "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Saved the picture to {out}\n"
    lib = tmp_path / "lib.png"
    rule = gdkit.parse_step("momentum,fixed", {"eta": 0.05, "momentum.beta": 0.5})
    traces = [gp.trace("valley", START, gdkit.step_rule("fixed", eta=0.05),
                       label="fixed:eta=0.05", max_iter=12),
              gp.trace("valley", START, rule, label="momentum,fixed:eta=0.05:momentum.beta=0.5",
                       max_iter=12)]
    gp.save(gp.valley("valley", traces), lib)
    from matplotlib.testing.compare import compare_images

    assert compare_images(str(lib), str(out), tol=0) is None


def test_plot_valley_in_process_gets_the_data_right(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Any] = []
    real = gp.valley
    monkeypatch.setattr(gp, "valley", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    status = main(["plot", "valley", "rosenbrock", "-o", "dim=2", "--v0", "-1.2", "1",
                   "--step", "armijo", "--max-iter", "40", "--out", str(tmp_path / "r.svg")])
    assert status == 0
    (line,) = contour_paths(drawn[0])
    res = gdkit.minimize("rosenbrock", [-1.2, 1.0], step="armijo", max_iter=40)
    assert (line.get_xdata()[0], line.get_ydata()[0]) == (-1.2, 1.0)
    assert (line.get_xdata()[-1], line.get_ydata()[-1]) == tuple(res.x)


@pytest.mark.parametrize(("args", "message"), [
    (["valley", "rosenbrock", "-o", "dim=3"], "needs a cost of two variables"),
    (["valley", "--step", "bogus"], "no step size named 'bogus'"),
    (["valley", "--step", "fixed:eta=-1"], "eta"),
    (["curve", "{tmp}/missing.jsonl"], "cannot read the training log"),
    (["curve", "{tmp}/a.jsonl", "--label", "x", "--label", "y"], "2 --label for 1 logs"),
])
def test_plot_command_errors_are_one_line(tmp_path: Path, args: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "a.jsonl", ROWS)
    argv = ["plot", *(a.format(tmp=tmp_path) for a in args), "--out", str(tmp_path / "p.png")]
    status = main(argv)
    err = capsys.readouterr().err
    assert status in (1, 2) and err.startswith("gdkit plot: error: ") and message in err, err
    assert err.count("\n") == 1 and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize(("out", "message"), [
    ("p.txt", "end the file name in .png, .svg, .pdf"),
    ("no/such/dir/p.png", "does not exist"),
    (".", "is a directory"),
])
def test_a_bad_out_is_refused_before_any_work(tmp_path: Path, out: str, message: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gp, "trace", lambda *a, **k: pytest.fail("worked before checking"))
    assert main(["plot", "valley", "--out", out]) == 2
    assert message in capsys.readouterr().err


def test_the_plot_command_without_matplotlib_names_the_extra(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["plot", "valley", "--out", str(tmp_path / "v.png")]) == 1
    err = capsys.readouterr().err
    assert err == ("gdkit plot: error: --out (a picture) needs matplotlib, which is not "
                   "installed: pip install 'gdkit[plot]'.\n")


def test_plot_curve_command_draws_each_log(tmp_path: Path) -> None:
    logs = [str(write_log(tmp_path / f"{n}.jsonl", ROWS)) for n in ("a", "b")]
    out = tmp_path / "curve.pdf"
    proc = run_gdkit("plot", "curve", *logs, "--label", "one", "--label", "two",
                     "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"%PDF")


# -- gdkit train --plot -----------------------------------------------------------------

def test_train_plot_draws_every_logged_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from .test_train_cli import MNIST_DIR, QUICK

    drawn: list[Any] = []
    real = gp.curves
    monkeypatch.setattr(gp, "curves", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    log, pic = tmp_path / "log.jsonl", tmp_path / "curve.png"
    status = main(["train", "--data", str(MNIST_DIR), *QUICK, "--log", str(log),
                   "--plot", str(pic), "-q"])
    assert status == 0, capsys.readouterr().err
    assert f"Saved the learning curve to {pic}" in capsys.readouterr().out
    assert pic.read_bytes().startswith(b"\x89PNG")
    logged = gp.read_log(log)
    acc = drawn[0].axes[0].get_lines()[0]
    np.testing.assert_array_equal(acc.get_xdata(), logged["epoch"])
    np.testing.assert_allclose(acc.get_ydata(), 100 * logged["accuracy"])
    np.testing.assert_allclose(drawn[0].axes[1].get_lines()[0].get_ydata(), logged["cost"])


def test_train_plot_is_checked_before_training(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gdkit, "minimize", lambda *a, **k: pytest.fail("trained first"))
    assert main(["train", "--plot", str(tmp_path / "curve.jpeg2"), "--epochs", "1"]) == 2
    assert "--plot" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["train", "--plot", str(tmp_path / "curve.png"), "--epochs", "1"]) == 1
    assert "pip install 'gdkit[plot]'" in capsys.readouterr().err


def test_train_plot_resumed_draws_the_epochs_before_the_resume_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_train_cli import MNIST_DIR, QUICK

    drawn: list[Any] = []
    real = gp.curves
    monkeypatch.setattr(gp, "curves", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    ck = tmp_path / "run.npz"
    quick = ["--data", str(MNIST_DIR), *QUICK, "-q"]
    assert main(["train", *quick, "--epochs", "2", "--checkpoint", str(ck)]) == 0
    assert main(["train", "--resume", str(ck), "--epochs", "3", "--allow-config-change",
                 "--plot", str(tmp_path / "c.png"), "-q"]) == 0, capsys.readouterr().err
    line = drawn[-1].axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])


# -- a trained network's pictures -------------------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .test_train_cli import MNIST_DIR, QUICK

    path = tmp_path_factory.mktemp("model") / "net.npz"
    assert main(["train", "--data", str(MNIST_DIR), *QUICK, "--epochs", "1", "--save",
                 str(path), "-q"]) == 0
    return path


def capture(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    drawn: list[Any] = []
    module = gi if name in ("digits", "weights") else gp  # MNIST's pictures: the network's
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    return drawn


def test_plot_errors_shows_exactly_the_misclassified_test_digits(
        model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gdkit_plugins.model import load, test_set

    from .test_train_cli import MNIST_DIR

    drawn = capture(monkeypatch, "digits")
    assert main(["plot", "errors", str(model), "--data", str(MNIST_DIR), "--limit", "30",
                 "--out", str(tmp_path / "e.png")]) == 0
    net = load(model)
    images, labels = test_set(MNIST_DIR)
    predicted = net.predict(images)
    wrong = np.flatnonzero(predicted != labels)[:30]
    shown = [ax for ax in drawn[0].axes if ax.get_images()]
    assert len(shown) == 30
    for ax, i in zip(shown, wrong, strict=True):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), images[i].reshape(28, 28))
        assert ax.get_title() == f"{labels[i]} → {predicted[i]}"
    total_wrong = int(np.count_nonzero(predicted != labels))
    assert drawn[0].get_suptitle().startswith(f"{total_wrong:,} of 10,000 test digits")


def test_plot_confusion_counts_the_test_set(model: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from gdkit_plugins.model import load, test_set

    from .test_train_cli import MNIST_DIR

    drawn = capture(monkeypatch, "confusion")
    assert main(["plot", "confusion", str(model), "--data", str(MNIST_DIR),
                 "--out", str(tmp_path / "c.svg")]) == 0
    images, labels = test_set(MNIST_DIR)
    predicted = load(model).predict(images)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (labels, predicted), 1)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text())
             for t in drawn[0].axes[0].texts}
    assert cells == {(i, j): int(expected[i, j]) for i in range(10) for j in range(10)}


def test_plot_weights_draws_the_first_layer(model: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from gdkit_plugins.model import load

    drawn = capture(monkeypatch, "weights")
    assert main(["plot", "weights", str(model), "--out", str(tmp_path / "w.png")]) == 0
    shown = [ax.get_images()[0].get_array() for ax in drawn[0].axes if ax.get_images()]
    w = load(model).weights[0]
    assert len(shown) == w.shape[0] == 16
    for img, row in zip(shown, w, strict=True):
        np.testing.assert_array_equal(img, row.reshape(28, 28))


@pytest.mark.parametrize("picture", ["errors", "confusion", "weights"])
def test_a_model_that_is_not_gdkits_is_one_line(picture: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    assert main(["plot", picture, str(bad), "--out", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gdkit plot: error: ") and "bad.npz" in err and err.count("\n") == 1
    assert not (tmp_path / "p.png").exists()


def test_weights_of_a_network_without_a_hidden_layer_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gdkit_plugins.network import save_network

    path = tmp_path / "flat.npz"
    save_network(path, np.zeros(784 * 10 + 10), [784, 10], {})
    assert main(["plot", "weights", str(path), "--out", str(tmp_path / "w.png")]) == 2
    assert "has no hidden layer" in capsys.readouterr().err


def test_the_readmes_picture_command_runs_as_written(tmp_path: Path) -> None:
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (command,) = re.findall(r"^(gdkit plot valley .*?--out docs/images/valley\.png)$",
                            readme.replace("\\\n", " "), re.M)
    argv = shlex.split(command)[1:]
    argv[-1] = str(tmp_path / "valley.png")
    assert main(argv) == 0
    assert (Path(__file__).resolve().parents[1] / "docs/images/valley.png").is_file()
