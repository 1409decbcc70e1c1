"""The docs' prose agrees with itself: figures the tutorial computes are printed by it, not
typed into its text, and one measurement carries one date everywhere it is quoted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial"
BOOK = {"95.42%"}  # the book's own figure, which no build of gdkit computes


def prose(script: Path) -> str:
    """A sphinx-gallery script's text: its docstring and its comment lines."""
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    comments = [line.strip()[1:] for line in source.splitlines()
                if line.strip().startswith("#") and not line.strip().startswith("# %%")]
    return doc + "\n" + "\n".join(comments)


def test_the_mnist_page_types_no_accuracy_of_its_own() -> None:
    """Its accuracies are printed by the page's code (what this build computed); the text
    quotes only the book's."""
    typed = set(re.findall(r"\d+\.\d+\s?%", prose(TUTORIAL / "plot_3_mnist.py")))
    assert typed <= BOOK, typed


def test_the_mnist_page_picks_its_epoch_by_validation() -> None:
    source = (TUTORIAL / "plot_3_mnist.py").read_text(encoding="utf-8")
    assert 'chosen = int(np.argmax(val))' in source
    assert "(the figure gdkit reports)" in source


def test_no_page_calls_the_substituted_form_eq_9() -> None:
    """Eq. (9) is ΔC ≈ ∇C·Δv; ΔC ≈ −η‖∇C‖² is eq. (10) substituted into it."""
    for page in [*TUTORIAL.glob("*.py"), *(ROOT / "docs").glob("*.rst"), ROOT / "README.md"]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"η‖∇C‖²\s*\(eq\. ?\(?9\)?\)", text), page.name


def test_the_accuracy_figures_carry_one_date_everywhere() -> None:
    """The README's and the benchmarks page's accuracy figures are rendered from one run
    (tests/test_figures.py checks them against it); the tutorial quotes no date of its own."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bench = (ROOT / "docs" / "benchmarks.rst").read_text(encoding="utf-8")
    dates = set(re.findall(r"`python benchmarks/accuracy\.py` on (\d{4}-\d\d-\d\d)", readme))
    dates |= set(re.findall(r"``python benchmarks/accuracy\.py`` on (\d{4}-\d\d-\d\d)",
                            bench))
    assert len(dates) == 1, dates
    for page in ("plot_3_mnist.py", "plot_4_stuck.py"):
        assert not re.search(r"\d{4}-\d\d-\d\d", prose(TUTORIAL / page)), page


def test_the_stuck_page_types_only_the_books_accuracies() -> None:
    typed = set(re.findall(r"\d+\.\d+\s?%", prose(TUTORIAL / "plot_4_stuck.py")))
    assert typed <= BOOK | {"96.59%"}, typed
