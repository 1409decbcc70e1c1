"""Sphinx configuration for gdkit's documentation."""

from importlib.metadata import version as _version

project = "gdkit"
author = "gdkit developers"
copyright = "2026, gdkit developers"
release = _version("gdkit")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
