"""The accuracy figures of the README and ``docs/benchmarks.rst``, from the results.

:func:`readme` and :func:`docs` return each rendered region's text by name,
from the ``accuracy`` section of ``benchmarks/results/figures.json`` (written
by ``python benchmarks/accuracy.py``); ``benchmarks/render.py`` puts them
between their marker lines. The standard library only.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Code = Callable[[str], str]
BOOK = {"784-30-10 quadratic normal 3": "book 95.42%",
        "784-100-10 quadratic normal 3": "book 96.59%",
        "784-100-10 cross-entropy scaled 0.5": "book ≈ 98% adds L2"}
"""The book's figure beside a configuration's best test epoch."""
TABLE = ("784-30-10 quadratic normal 3", "784-30-10 cross-entropy scaled 0.5",
         "784-100-10 quadratic normal 3", "784-100-10 cross-entropy scaled 0.5",
         "784-10 quadratic normal 3", "784-10 cross-entropy scaled 0.5")
CURES_AT_3 = ("784-30-10 cross-entropy scaled 3", "784-100-10 cross-entropy scaled 3",
              "784-10 cross-entropy scaled 3")
DEFAULTS, NUMPY = TABLE[0], "784-30-10 quadratic normal 3 numpy"
STEP_NAMES = {"fixed": "`fixed` (η = 3.0, the default)", "armijo": "`armijo`",
              "normalized": "`normalized` (ε = 0.01)"}
TARGET_TEXT = "median ≥ 95.0% (book: 95.42%)"


# -- figures ----------------------------------------------------------------------------
def pct(x: float, digits: int = 2) -> str:
    """``x`` (a fraction) as a percentage's digits: 0.9507 -> "95.07"."""
    return f"{100 * x:.{digits}f}"


def config(acc: dict[str, Any], key: str) -> dict[str, Any]:
    """The configuration ``key`` of the results (a KeyError names a missing one)."""
    configs: list[dict[str, Any]] = acc["configs"]
    for c in configs:
        if c["key"] == key:
            return c
    raise KeyError(f"the accuracy results have no configuration {key!r}: "
                   "run python benchmarks/accuracy.py")


def per_seed(c: dict[str, Any], field: str, digits: int = 2) -> str:
    """A per-seed figure of configuration ``c``: "95.07 / 94.81 / 95.20%"."""
    return " / ".join(pct(r[field], digits) for r in c["runs"]) + "%"


def network(c: dict[str, Any]) -> str:
    """``[784, 30, 10]``."""
    return "[" + ", ".join(map(str, c["sizes"])) + "]"


def _start(c: dict[str, Any]) -> str:
    start = {"normal": "N(0, 1)", "scaled": "scaled"}.get(c["init"], c["init"])
    return f"{c['cost']}, {start}, {c['eta']:.1f}"


def _seconds(c: dict[str, Any]) -> str:
    return f"{c['median_seconds_per_epoch']:.2f} s"


# -- where and how it was measured ------------------------------------------------------
def _blas(acc: dict[str, Any]) -> str:
    during = {(b["internal_api"], b.get("version")): b["num_threads"]
              for b in acc.get("blas_during_training") or []}
    out = []
    for b in acc["blas"]:
        threads = f"{b['num_threads']} threads"
        while_training = during.get((b["internal_api"], b["version"]), b["num_threads"])
        if while_training != b["num_threads"]:
            threads += f", {while_training} while training"
        out.append(f"{b['internal_api']} {b['version']} (kernel {b['architecture']}, {threads})")
    return ", ".join(out) or "unknown BLAS"


def _compiled(acc: dict[str, Any], compiled: bool) -> str:
    numba = acc["machine"]["versions"].get("numba")
    return f"the compiled path (numba {numba})" if compiled else "the numpy path"


def path(acc: dict[str, Any]) -> str:
    """Which path the configurations run on the default path took."""
    default = [c for c in acc["configs"] if c.get("path") != "numpy"]
    if all(c["compiled"] for c in default) or not any(c["compiled"] for c in default):
        return _compiled(acc, default[0]["compiled"])
    others = sorted({network(c) for c in default if not c["compiled"]}, key=len, reverse=True)
    return f"{_compiled(acc, True)}, the numpy path for {' and '.join(others)}"


def provenance(acc: dict[str, Any], code: Code) -> str:
    """"by python benchmarks/accuracy.py on DATE (machine, kernel, BLAS, path, load)"."""
    m, load = acc["machine"], acc["load_average"]
    busy = max(load["start"][0], load["end"][0]) >= 1.0
    versions = m["versions"]
    return (f"by {code('python benchmarks/accuracy.py')} on {acc['date'][:10]} "
            f"({m['cpu_model']}, {m['cpus']} CPUs, {m['system']} {m['kernel']}, gdkit "
            f"{versions['gdkit']}, numpy {versions['numpy']}, {_blas(acc)}; {path(acc)}; load "
            f"average {load['start'][0]:.2f} at the start and {load['end'][0]:.2f} at the end"
            f"{': the machine was shared' if busy else ''})")


def briefly(acc: dict[str, Any], code: Code) -> str:
    """"by python benchmarks/accuracy.py on DATE" (the machine said with the tables)."""
    return f"by {code('python benchmarks/accuracy.py')} on {acc['date'][:10]}"


def settings(acc: dict[str, Any]) -> str:
    """"30 epochs, mini-batches of 10, seeds 0 / 1 / 2"."""
    return (f"{acc['epochs']} epochs, mini-batches of {acc['batch_size']}, seeds "
            + " / ".join(map(str, acc["seeds"])))


# -- the README -------------------------------------------------------------------------
def transcript(acc: dict[str, Any]) -> str:
    """``gdkit train``'s first two epoch lines and its best-validation line, as printed."""
    t = acc["transcript"]
    epochs = [x for x in t["lines"] if x.startswith("Epoch ")]
    best = [x for x in t["lines"] if x.startswith("Best validation")]
    return "\n".join(["```", *epochs[:2], "...", *best, "```", "",
                      f"(`{t['command']} --data ...`, run {briefly(acc, _md)} on "
                      f"{_compiled(acc, t['compiled'])}; each epoch's seconds are its steps.)"])


def _md(s: str) -> str:
    return f"`{s}`"


def summary(acc: dict[str, Any]) -> str:
    """The README's headline: best-epoch test accuracy at the defaults, per seed."""
    c = config(acc, DEFAULTS)
    met = "met" if c["median_best_accuracy"] >= acc["target"] else "**missed**"
    return "\n".join([
        f"Measured {provenance(acc, _md)}:", "", "| | figure | target |", "|---|---|---|",
        f"| best-epoch test accuracy, {acc['epochs']} epochs at the defaults, seeds "
        f"{' / '.join(map(str, acc['seeds']))} | {per_seed(c, 'best_accuracy')}: median "
        f"**{pct(c['median_best_accuracy'])}%** (at the best validation epoch: "
        f"{pct(c['median_test_at_best_validation'])}%) | {TARGET_TEXT}: {met} |"])


def _step_rows(acc: dict[str, Any]) -> list[list[str]]:
    """The step-size table's rows (header first), Markdown's `code`."""
    runs = acc["steps"]
    fixed = statistics.median(next(s for s in runs if s["step"] == "fixed")["seconds"])
    n = runs[0]["epochs"]
    out = [["`--step`", f"test accuracy after epochs {' / '.join(map(str, range(1, n + 1)))}",
            "seconds per epoch", "path"]]
    for s in runs:
        secs = statistics.median(s["seconds"])
        note = {"armijo": f" ({secs / fixed:.1f}× `fixed`'s in this run; "
                          "`benchmarks/armijo_epoch.py` times the two interleaved)",
                "normalized": " (steps of length 0.01 learn slowly)"}.get(s["step"], "")
        out.append([STEP_NAMES.get(s["step"], s["step"]),
                    " / ".join(f"{pct(a)}%" for a in s["accuracy"]), f"{secs:.2f}{note}",
                    "compiled" if s["compiled"] else "numpy"])
    out.append(["`bold-driver`, `barzilai-borwein`", "refused with the reason: full batch only",
                "", ""])
    return out


def _steps_intro(acc: dict[str, Any], code: Code) -> str:
    n = acc["steps"][0]["epochs"]
    return (f"Every built-in step size on the book's network in mini-batch mode at its "
            f"defaults ({code(f'gdkit train --epochs {n} --step NAME')}, seed 0, run "
            f"{briefly(acc, code)}; seconds per epoch: the median of the {n})")


def steps(acc: dict[str, Any]) -> str:
    """The README's table of ``gdkit train --epochs 3 --step NAME``."""
    rows = _step_rows(acc)
    return "\n".join([_steps_intro(acc, _md) + ":", "", "| " + " | ".join(rows[0]) + " |",
                      "|" + "---|" * len(rows[0]),
                      *("| " + " | ".join(r) + " |" for r in rows[1:])])


def _table_rows(acc: dict[str, Any]) -> list[list[str]]:
    head = ["network", "cost, start, η", "test accuracy at the best validation epoch",
            "median", "best test epoch (median)", "lowest digit recall (same epoch)"]
    out = [head]
    for key in TABLE:
        c = config(acc, key)
        book = f" ({BOOK[key]})" if key in BOOK else ""
        out.append([network(c), _start(c) + (" (the defaults)" if key == DEFAULTS else ""),
                    per_seed(c, "test_at_best_validation"),
                    f"**{pct(c['median_test_at_best_validation'])}%**",
                    f"{pct(c['median_best_accuracy'])}%{book}",
                    per_seed(c, "min_recall_at_chosen", 1)])
    return out


def cures_at_3(acc: dict[str, Any], code: Code) -> str:
    """The cures at the defaults' η = 3.0 against η = 0.5: medians, lowest recall."""
    parts = []
    for key in CURES_AT_3:
        c, half = config(acc, key), config(acc, key.replace(" 3", " 0.5"))
        parts.append(f"{pct(c['median_test_at_best_validation'])}% at {network(c)} "
                     f"(η = 0.5: {pct(half['median_test_at_best_validation'])}%)")
    low = min(r["min_recall_at_chosen"] for key in CURES_AT_3
              for r in config(acc, key)["runs"])
    return (f"With the cures ({code('--cost cross-entropy --init scaled')}) at the defaults' "
            f"η = 3.0, the median test accuracy at the best validation epoch is "
            f"{', '.join(parts)}; the lowest digit recall of these runs is {pct(low, 1)}%.")


def table(acc: dict[str, Any]) -> str:
    """The README's table of networks, costs and starts, and the cures at η = 3.0."""
    rows = _table_rows(acc)
    return "\n".join([
        f"Measured {provenance(acc, _md)} ({settings(acc)}):", "",
        "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0]),
        *("| " + " | ".join(r) + " |" for r in rows[1:]), "", cures_at_3(acc, _md)])


def readme(acc: dict[str, Any]) -> dict[str, str]:
    """Each README region's text, by marker name."""
    return {"accuracy transcript": transcript(acc), "accuracy summary": summary(acc),
            "accuracy steps": steps(acc), "accuracy table": table(acc)}


# -- the docs ---------------------------------------------------------------------------
def _rst(s: str) -> str:
    return f"``{s}``"


def list_table(rows: list[list[str]]) -> str:
    """An RST list-table (header row first); Markdown's `code` made ``code``."""
    out = [".. list-table::", "   :header-rows: 1", ""]
    for r in rows:
        out += [f"   * - {r[0]}"] + [f"     - {x}".rstrip() for x in r[1:]]
    return "\n".join(out)


def docs_defaults(acc: dict[str, Any]) -> str:
    """The book's experiment per seed, with the median."""
    c = config(acc, DEFAULTS)
    rows = [["seed", "test accuracy at the best validation epoch", "best-epoch test accuracy "
             "(epoch)", "lowest digit recall (best validation epoch)"]]
    rows += [[str(r["seed"]), f"{pct(r['test_at_best_validation'])}%",
              f"{pct(r['best_accuracy'])}% ({r['best_epoch']})",
              f"{pct(r['min_recall_at_chosen'], 1)}%"] for r in c["runs"]]
    rows.append(["median (book: 95.42% at its best epoch)",
                 f"**{pct(c['median_test_at_best_validation'])}%**",
                 f"**{pct(c['median_best_accuracy'])}%**", ""])
    return "\n".join([
        f"Measured {provenance(acc, _rst)}: the book's experiment ({_rst('gdkit train')} at its "
        f"defaults: [784, 30, 10], {settings(acc)}, η = 3.0, the quadratic cost, the N(0, 1) "
        f"start); {_seconds(c)} per epoch (median).", "", list_table(rows)])


def docs_paths(acc: dict[str, Any]) -> str:
    """The defaults on the numpy path against the default path, same run."""
    c, n = config(acc, DEFAULTS), config(acc, NUMPY)
    return (f"On the numpy path ({_rst('GDKIT_NO_COMPILE=1')}, the same run) the same seeds "
            f"reached {per_seed(n, 'best_accuracy')} at their best epochs (median "
            f"{pct(n['median_best_accuracy'])}%; {per_seed(n, 'test_at_best_validation')} at "
            f"the best validation epoch), at {_seconds(n)} per epoch; on "
            f"{_compiled(acc, c['compiled'])} "
            f"{per_seed(c, 'best_accuracy')} (median {pct(c['median_best_accuracy'])}%), at "
            f"{_seconds(c)} per epoch.")


def docs_table(acc: dict[str, Any]) -> str:
    """The docs' table of networks, costs and starts, and the cures at η = 3.0."""
    rows = [r[:4] + r[5:] for r in _table_rows(acc)]
    rows = [[x.replace("**", "") for x in r] for r in rows]
    return "\n".join([f"Measured {provenance(acc, _rst)} ({settings(acc)}).", "",
                      list_table(rows), "", cures_at_3(acc, _rst)])


def docs_steps(acc: dict[str, Any]) -> str:
    """The docs' table of ``gdkit train --epochs 3 --step NAME``."""
    rows = [[x.replace("`", "``") for x in r] for r in _step_rows(acc)]
    return "\n".join([_steps_intro(acc, _rst) + ":", "", list_table(rows)])


def docs(acc: dict[str, Any]) -> dict[str, str]:
    """Each docs region's text, by marker name."""
    return {"accuracy defaults": docs_defaults(acc), "accuracy paths": docs_paths(acc),
            "accuracy table": docs_table(acc), "accuracy steps": docs_steps(acc)}
