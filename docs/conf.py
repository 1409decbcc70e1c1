"""Sphinx configuration for gdkit's documentation.

The tutorial (``docs/tutorial/*.py``) is executed at every build by
sphinx-gallery: each script's cells print their numbers and draw their
pictures when the docs are built, so what the tutorial says is what gdkit
computes today. sphinx-gallery was chosen over the matplotlib plot directive
(pictures only, no printed numbers) and myst-nb (a Jupyter kernel in the
build) because it runs plain Python scripts cell by cell, shows their output
and figures, and offers each one for download as a script and a notebook.

Nothing on a built page comes from the network, so that the pages read the
same from ``docs/_build/html`` on a machine offline: the math is typeset by a
copy of MathJax 3 that the ``sphinx-mathjax-offline`` package ships (the
``docs`` extra), copied into ``_static/mathjax`` at every build (no LaTeX is
needed to build), and sphinx-gallery's page of computation times, which loads
jQuery and DataTables from CDNs, is not written.
``tests/test_docs_offline.py`` checks the built pages.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import distribution as _distribution
from importlib.metadata import version as _version
from pathlib import Path

project = "gdkit"
author = "gdkit developers"
copyright = "2026, gdkit developers"
release = _version("gdkit")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
nitpicky = False
# sg_execution_times.rst: sphinx-gallery's timing page (CDN scripts), left from older builds.
exclude_patterns = ["_build", "tutorial/README.rst", "sg_execution_times.rst",
                    "auto_tutorial/sg_execution_times.rst"]
html_theme = "alabaster"

# MathJax from the docs extra's sphinx-mathjax-offline (its files sit in a folder named
# like the distribution, which is no importable module name), served from _static/mathjax.
_MATHJAX = Path(str(_distribution("sphinx-mathjax-offline").locate_file(
    "sphinx-mathjax-offline/static")))
if not (_MATHJAX / "mathjax" / "tex-chtml.js").is_file():
    raise RuntimeError(f"MathJax is not where sphinx-mathjax-offline puts it: {_MATHJAX}; "
                       "reinstall the docs extra: pip install -e '.[docs]'")
html_static_path = [str(_MATHJAX)]
mathjax_path = "mathjax/tex-chtml.js"

# The MNIST files for the tutorial's network: the folder the tests use.
os.environ.setdefault(
    "GDKIT_TEST_MNIST", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # gdkit_gallery: the figure scraper

sphinx_gallery_conf = {
    "examples_dirs": "tutorial",
    "gallery_dirs": "auto_tutorial",
    "filename_pattern": r"/plot_",  # run every tutorial script
    "image_scrapers": ("gdkit_gallery",),
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,  # its page loads jQuery and DataTables from CDNs
    "reset_modules": (),
}
