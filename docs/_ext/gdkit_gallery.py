"""sphinx-gallery scraper for the figures :mod:`gdkit.plot` returns.

gdkit.plot draws on :class:`matplotlib.figure.Figure` objects made without
pyplot (no global state), which sphinx-gallery's own matplotlib scraper
cannot see. This one shows each new Figure a tutorial cell leaves in the
script's variables, once, in the order the variables were first bound.
"""

from __future__ import annotations

from typing import Any

_shown: dict[str, set[int]] = {}


def scrape(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Save the cell's new figures and return the rST that shows them."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    seen = _shown.setdefault(str(block_vars["src_file"]), set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and id(value) not in seen:
            seen.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=90)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


def _get_sg_image_scraper() -> Any:
    """The hook sphinx-gallery calls for a scraper named by its module."""
    return scrape
