"""Sphinx configuration for gdkit's documentation.

The tutorial (``docs/tutorial/*.py``) is executed at every build by
sphinx-gallery: each script's cells print their numbers and draw their
pictures when the docs are built, so what the tutorial says is what gdkit
computes today. sphinx-gallery was chosen over the matplotlib plot directive
(pictures only, no printed numbers) and myst-nb (a Jupyter kernel in the
build) because it runs plain Python scripts cell by cell, shows their output
and figures, and offers each one for download as a script and a notebook.
"""

from __future__ import annotations

import os
import sys
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
exclude_patterns = ["_build", "tutorial/README.rst"]
html_theme = "alabaster"

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
    "write_computation_times": True,
    "reset_modules": (),
}
