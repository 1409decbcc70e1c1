"""Render the README's and the docs' speed and accuracy figures from the results file.

Run from the repository root after a full ``python benchmarks/speed.py`` or
``python benchmarks/accuracy.py``::

    python benchmarks/render.py           # rewrite every rendered region
    python benchmarks/render.py --check   # exit 1 if any differs

Both scripts write their section (``speed``, ``accuracy``) of one committed
results file, ``benchmarks/results/figures.json``. The figures live between
marker lines in ``README.md`` and ``docs/benchmarks.rst``; everything between
them is generated (edit this script or ``render_accuracy.py``, never the
figures). ``tests/test_figures.py`` checks that both files match the
committed results. The standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # run as a script, it is sys.path[0]; imported, last
    sys.path.append(str(HERE))
import render_accuracy  # noqa: E402  (a sibling module)

RESULTS = ROOT / "benchmarks" / "results" / "figures.json"
README = ROOT / "README.md"
DOCS = ROOT / "docs" / "benchmarks.rst"
SOURCE = "rendered by benchmarks/render.py from benchmarks/results/figures.json; do not edit"


def md_marks(name: str) -> tuple[str, str]:
    """The Markdown marker lines around the region ``name``."""
    return f"<!-- {name}: begin ({SOURCE}) -->", f"<!-- {name}: end -->"


def rst_marks(name: str) -> tuple[str, str]:
    """The reStructuredText marker lines (comments) around the region ``name``."""
    return f".. {name}: begin ({SOURCE})", f".. {name}: end"


COLUMNS = {"default": "gdkit (default path)", "numpy": "gdkit, numpy path",
           "hand_1": "hand loop, 1 BLAS thread", "hand_lib": "hand loop, BLAS default",
           "jax": "JAX `lax.scan`"}
YARDSTICKS = ("numpy", "hand_1", "hand_lib")  # the default path must not lose to these
NAMES = {"numpy": "the numpy path", "hand_1": "the hand loop (1 thread)",
         "hand_lib": "the hand loop (BLAS default)", "jax": "JAX", "book": "the book's loop"}


def verdict(mine: float, other: float, digits: int = 2) -> str:
    """How ``mine`` seconds compare with ``other``: "1.15× slower", "2.03× faster"
    (``digits`` decimals: 3 where a target's threshold is near, so that a
    ratio of 1.2987 against 1.3 does not read "1.30")."""
    if mine > other:
        return f"{mine / other:.{digits}f}× slower"
    if mine < other:
        return f"{other / mine:.{digits}f}× faster"
    return "as fast"


def cell(results: dict[str, Any], hidden: int, batch: int, dtype: str) -> dict[str, Any] | None:
    return next((c for c in results["cells"] if (c["hidden"], c["batch_size"], c["dtype"])
                 == (hidden, batch, dtype)), None)


def _worst_cell(results: dict[str, Any]) -> tuple[float, str] | None:
    worst: tuple[float, str] | None = None
    for c in results["cells"]:
        s = c["seconds"]
        rival = min(YARDSTICKS, key=lambda k: s.get(k, float("inf")))
        ratio = s["default"] / s[rival]
        if worst is None or ratio > worst[0]:
            worst = (ratio, f"[784, {c['hidden']}, 10], batch {c['batch_size']}, "
                            f"{c['dtype']}, against {NAMES[rival]}")
    return worst


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what, the figure, its wording, whether met (absent figures skipped)."""
    out: list[dict[str, Any]] = []
    b = cell(results, 30, 10, "float64")
    b32 = cell(results, 30, 10, "float32")

    def add(what: str, value: float, ok: bool, text: str) -> None:
        out.append({"target": what, "value": value, "met": ok, "text": text})

    if b:
        s = b["seconds"]
        hand = min(s["hand_1"], s["hand_lib"])
        add("default ≥ 2× faster than the hand loop ([784, 30, 10], batch 10, float64)",
            hand / s["default"], hand / s["default"] >= 2.0, verdict(s["default"], hand))
        if "jax" in s:
            add("default ≥ 1.5× faster than JAX ([784, 30, 10], batch 10, float64)",
                s["jax"] / s["default"], s["jax"] / s["default"] >= 1.5,
                verdict(s["default"], s["jax"]))
        if "book" in s:
            add("default ≥ 6× faster than the book's per-example loop (batch 10, float64)",
                s["book"] / s["default"], s["book"] / s["default"] >= 6.0,
                verdict(s["default"], s["book"]))
    if b and b32:
        r = b["seconds"]["default"] / b32["seconds"]["default"]
        add("float32 ≥ 1.3× faster than float64 (default, [784, 30, 10], batch 10)", r,
            r >= 1.3, verdict(b32["seconds"]["default"], b["seconds"]["default"], 3))
    worst = _worst_cell(results)
    if worst:
        add("in every cell, the default path no more than 5% slower than the best of the "
            "numpy path and the hand loops", worst[0], worst[0] <= 1.05,
            f"worst: {worst[0]:.3f}× the time ({worst[1]})")
    rb = results.get("rosenbrock")
    if rb:
        add("`minimize`'s per-step overhead on 2-D Rosenbrock ≤ 2× a hand-written loop",
            rb["overhead"], rb["overhead"] <= 2.0,
            f"{rb['overhead']:.2f}× ({rb['gdkit_us']:.1f} µs against {rb['hand_us']:.1f} µs)")
    mem = results.get("memory")
    if mem:
        top = max(m["peak_rss_mb"] for m in mem)
        add("peak memory of `gdkit train --epochs 1` < 700 MB", top, top < 700.0,
            " / ".join(f"{m['peak_rss_mb']:.0f} MB ({m['dtype']})" for m in mem))
    return out


def _blas(results: dict[str, Any]) -> str:
    libs = results.get("blas") or []
    return ", ".join(f"{b['internal_api']} {b['version']} (kernel {b['architecture']}, "
                     f"{b['num_threads']} threads)" for b in libs) or "unknown BLAS"


def _path(results: dict[str, Any]) -> str:
    compiled = {bool(c.get("default_compiled")) for c in results["cells"]}
    if compiled == {True}:
        return "the compiled path in every cell"
    if compiled == {False}:
        return "the numpy path in every cell"
    return "the compiled path in some cells, the numpy path in others"


def intro(results: dict[str, Any], code: Callable[[str], str]) -> str:
    m, load = results["machine"], results["load_average"]
    start = results.get("startup")
    busy = max(load["start"][0], load["end"][0]) >= 1.0  # another process had a core
    text = (f"Measured by {code('python benchmarks/speed.py')} on {results['date'][:10]} "
            f"({m['cpu_model']}, {m['cpus']} CPUs, {_blas(results)}, "
            f"load average {load['start'][0]:.2f} at the start and {load['end'][0]:.2f} "
            f"at the end{': the machine was shared' if busy else ''}; "
            f"{code('OPENBLAS_CORETYPE')} and "
            f"{code('OPENBLAS_L2_SIZE')} removed from the timed processes). Seconds per "
            f"epoch of mini-batch SGD (η = 3.0) over {results['n_train']:,} training images, "
            f"the best of {results['repeat']} interleaved rounds; the default path is "
            f"{_path(results)}; the last column compares it with the fastest of the numpy "
            "path and the hand loops.")
    if start:
        said = start["first_says_compiling"] and not start["second_says_compiling"]
        line = ("saying in one line on stderr that it compiles once" if said
                else "WITHOUT the compile line")
        text += (f" First run ({code('gdkit train --epochs 1 --n-train 1000')}, fresh "
                 f"processes): with an empty compile cache {start['first_s']:.1f} s, "
                 f"{line}"
                 f"; the second, with the cache on disk, {start['second_s']:.1f} s"
                 f"{', silent' if said else ''}; the numpy path {start['numpy_s']:.1f} s.")
    return text


def rows(results: dict[str, Any]) -> list[list[str]]:
    """The table's rows of cells (header first)."""
    present = [k for k in COLUMNS if any(k in c["seconds"] for c in results["cells"])]
    out = [["network, batch, dtype", *(COLUMNS[k] for k in present), "default against the best"]]
    for c in results["cells"]:
        s = c["seconds"]
        rival = min(YARDSTICKS, key=lambda k: s.get(k, float("inf")))
        out.append([f"[784, {c['hidden']}, 10], {c['batch_size']}, {c['dtype']}",
                    *(f"{s[k]:.3f}" if k in s else "" for k in present),
                    f"{verdict(s['default'], s[rival])} than {NAMES[rival]}"])
    return out


def markdown(results: dict[str, Any]) -> str:
    table = rows(results)
    lines = [intro(results, lambda s: f"`{s}`"), ""]
    lines += ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
    lines += ["", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['text']} | {'met' if t['met'] else '**missed**'} |"
              for t in targets(results)]
    return "\n".join(lines)


def rst(results: dict[str, Any]) -> str:
    def table(body: list[list[str]]) -> list[str]:
        out = ["", ".. list-table::", "   :header-rows: 1", ""]
        for r in body:
            out += [f"   * - {r[0]}"] + [f"     - {x.replace('`', '')}" for x in r[1:]]
        return out

    lines = [intro(results, lambda s: f"``{s}``")]
    lines += table(rows(results))
    lines += table([["target", "measured", ""]] + [
        [t["target"].replace("`", "``"), t["text"], "met" if t["met"] else "**missed**"]
        for t in targets(results)])
    return "\n".join(lines)


def replace(text: str, marks: tuple[str, str], body: str) -> str:
    """``text`` with what lies between the two marker lines replaced by ``body``."""
    head, sep, rest = text.partition(marks[0] + "\n")
    _, sep2, tail = rest.partition(marks[1])
    if not sep or not sep2:
        raise SystemExit(f"the markers {marks} are missing")
    return head + marks[0] + "\n\n" + body + "\n\n" + marks[1] + tail


def regions(sections: dict[str, Any]) -> dict[Path, dict[tuple[str, str], str]]:
    """Each file's regions (by their marker lines) and their rendered text."""
    speed, acc = sections["speed"], sections["accuracy"]
    md = {md_marks("speed table"): markdown(speed)}
    md |= {md_marks(k): v for k, v in render_accuracy.readme(acc).items()}
    doc = {rst_marks("speed table"): rst(speed)}
    doc |= {rst_marks(k): v for k, v in render_accuracy.docs(acc).items()}
    return {README: md, DOCS: doc}


def rendered(results_file: Path = RESULTS) -> dict[Path, str]:
    """Each file's text with its regions rendered from ``results_file``."""
    sections = json.loads(results_file.read_text(encoding="utf-8"))
    out = {}
    for path, parts in regions(sections).items():
        text = path.read_text(encoding="utf-8")
        for marks, body in parts.items():
            text = replace(text, marks, body)
        out[path] = text
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a rendered region differs")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    stale = []
    for path, text in rendered(args.results).items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'differs' if args.check else 'rewrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
