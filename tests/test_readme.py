"""Every ``gdkit`` command in the README's console blocks works as written.

The README's "Run the tests" section says how they are run: in order, in an empty
folder, with the test MNIST folder for ``../shared/data/mnist`` and ``$GDKIT_DATA``,
``gdkit train`` shortened with ``--epochs 2``, and ``digit.png`` the
first test image. A command whose comment says it "fails on purpose" must exit with 1;
every other one with 0.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .test_cli import gdkit_cmd

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MNIST = Path(os.environ.get("GDKIT_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist"))
README_DATA = "../shared/data/mnist"  # the folder the README's commands name
QUICK_TRAIN = ("--epochs", "2")  # as the README says: every digit learned, exit 0
ON_PURPOSE = "fails on purpose"
OUTPUT_FLAGS = ("--out", "--save", "--log", "--plot", "--checkpoint")


@dataclass(frozen=True)
class Command:
    """One ``gdkit`` command of the README: its arguments after ``gdkit``, its comment."""

    line: int
    args: tuple[str, ...]
    comment: str

    @property
    def expected_status(self) -> int:
        return 1 if ON_PURPOSE in self.comment else 0

    @property
    def outputs(self) -> list[str]:
        return [b for a, b in zip(self.args, self.args[1:], strict=False) if a in OUTPUT_FLAGS]

    def __str__(self) -> str:
        return f"README.md:{self.line}: gdkit {shlex.join(self.args)}"


def readme_commands(text: str) -> list[Command]:
    """The ``gdkit`` commands of every console block in ``text``, in order.

    A line ending in a backslash continues on the next; ``#`` starts a comment; a
    line may chain commands with ``&&`` (``pip install ... && gdkit train``).
    """
    found: list[Command] = []
    for block in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
        first = text.count("\n", 0, block.start(1)) + 1
        logical: list[tuple[int, str]] = []
        pending = ""
        for offset, raw in enumerate(block[1].splitlines()):
            if not pending:
                start = first + offset
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            logical.append((start, pending + raw))
            pending = ""
        for number, line in logical:
            code, comment = _split_comment(line)
            tokens = shlex.split(code)
            segments: list[list[str]] = [[]]
            for token in tokens:
                if token == "&&":
                    segments.append([])
                else:
                    segments[-1].append(token)
            found += [Command(number, tuple(seg[1:]), comment)
                      for seg in segments if seg and seg[0] == "gdkit"]
    return found


def _split_comment(line: str) -> tuple[str, str]:
    """``line`` as (code, comment): a comment starts at a ``#`` outside quotes that begins
    a word, as in a shell (a comment may hold an apostrophe: "each neuron's weights")."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i], line[i + 1:].strip()
    return line, ""


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def as_run(cmd: Command, *, pictures: bool = True) -> list[str]:
    """The command as the test runs it: the README's substitutions, nothing else (and
    without ``--plot FILE`` where matplotlib is missing, as the README says)."""
    args = [str(MNIST) if a == README_DATA else a for a in cmd.args]
    if args[:1] == ["train"]:
        args += QUICK_TRAIN
    if not pictures and "--plot" in args:
        at = args.index("--plot")
        del args[at:at + 2]
    return args


def _needs(cmd: Command) -> str | None:
    """The module an optional extra provides that ``cmd`` needs, if any."""
    if cmd.args[:1] == ("plot",):
        return "matplotlib"
    if cmd.args[:1] == ("predict",) and any(a.endswith(".png") for a in cmd.args):
        return "PIL"
    return None


def _digit_png(path: Path) -> None:
    """The first MNIST test image (a 7) as a 28 x 28 greyscale PNG."""
    from gdkit_plugins.mnist import load_mnist
    from PIL import Image

    images = load_mnist(MNIST).test_images
    Image.fromarray(np.round(images[0].reshape(28, 28) * 255).astype(np.uint8)).save(path)


# --- the extraction itself (fast) ---------------------------------------------------------

def test_the_extraction_reads_blocks_continuations_chains_and_comments() -> None:
    text = ("intro\n```console\npip install \".[progress]\" && gdkit train --data "
            "../shared/data/mnist\n```\n\n```console\ngdkit plot valley --v0 1.5 -1 \\\n"
            "    --step fixed:eta=0.05 --out docs/images/valley.png\n"
            "gdkit minimize valley   # every part and who supplied it\n"
            "gdkit check-gradient rosenbrock --gradient forward  # fails on purpose: exit 1\n"
            "```\n```python\ngdkit.minimize('valley')\n```\n")
    got = readme_commands(text)
    assert [(c.line, c.args, c.expected_status) for c in got] == [
        (3, ("train", "--data", "../shared/data/mnist"), 0),
        (7, ("plot", "valley", "--v0", "1.5", "-1", "--step", "fixed:eta=0.05", "--out",
             "docs/images/valley.png"), 0),
        (9, ("minimize", "valley"), 0),
        (10, ("check-gradient", "rosenbrock", "--gradient", "forward"), 1),
    ]
    assert got[1].outputs == ["docs/images/valley.png"]
    assert as_run(got[0]) == ["train", "--data", str(MNIST), *QUICK_TRAIN]


def test_the_readme_shows_the_commands_a_newcomer_needs() -> None:
    """The extraction finds the README's commands (so the test below cannot pass empty)."""
    firsts = {c.args[0] for c in COMMANDS}
    assert {"train", "plot", "evaluate", "predict", "plugins", "minimize",
            "check-gradient"} <= firsts
    assert len(COMMANDS) >= 15
    assert any(c.expected_status == 1 for c in COMMANDS)
    for cmd in COMMANDS:  # every data-reading command finds the data as the README says
        if cmd.args[:2] == ("check-gradient", "mnist-network"):
            assert README_DATA in cmd.args, cmd


# --- running them -------------------------------------------------------------------------

@pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST test data at {MNIST}")
def test_every_readme_command_works_as_written(tmp_path: Path) -> None:
    env = dict(os.environ, GDKIT_DATA=str(MNIST), XDG_CACHE_HOME=str(tmp_path / "cache"),
               MPLBACKEND="Agg")
    env.pop("GDKIT_DISABLE_PLUGIN_AUTOLOAD", None)
    work = tmp_path / "work"
    (work / "docs" / "images").mkdir(parents=True)
    missing = {m for m in ("matplotlib", "PIL") if importlib.util.find_spec(m) is None}
    if "PIL" not in missing:
        _digit_png(work / "digit.png")
    failures: list[str] = []
    ran = 0
    for cmd in COMMANDS:
        if _needs(cmd) in missing:
            continue
        args = as_run(cmd, pictures="matplotlib" not in missing)
        out = subprocess.run([*gdkit_cmd(), *args], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
        ran += 1
        if out.returncode != cmd.expected_status:
            failures.append(f"{cmd}\n  exit {out.returncode}, expected "
                            f"{cmd.expected_status}:\n  {out.stderr.strip()[-600:]}")
        elif "Traceback" in out.stderr:
            failures.append(f"{cmd}\n  printed a traceback:\n{out.stderr[-600:]}")
        else:
            failures += [f"{cmd}\n  exit {out.returncode} but no {name} was written"
                         for name in cmd.outputs if name in args and not (work / name).is_file()]
    assert failures == []
    assert ran >= (len(COMMANDS) if not missing else 5)
