"""The built docs need no network: every script, stylesheet, image and font a page loads is local.

The pages are read from ``$GDKIT_DOCS_HTML`` (``tox -e docs`` builds them and sets it);
without it the test of the built pages is skipped and only the scanner's own tests run.
Links a reader may follow (``<a href="https://...">``) are not resources and are allowed.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

# A resource is external when its URL names a scheme and host, or is protocol-relative.
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.I)
# <link rel=...> values that make the browser fetch the target to show the page.
_FETCHED_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "apple-touch-icon",
                 "manifest", "mask-icon"}


class _Resources(HTMLParser):
    """Collect the URLs an HTML page loads (not the links it offers)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in {"script", "img", "iframe", "embed", "source", "audio", "video", "track",
                   "input"} and "src" in a:
            self.urls.append(a["src"])
        if tag in {"img", "source"} and "srcset" in a:
            self.urls += [part.split()[0] for part in a["srcset"].split(",") if part.split()]
        if tag == "video" and "poster" in a:
            self.urls.append(a["poster"])
        if tag == "object" and "data" in a:
            self.urls.append(a["data"])
        if tag == "link" and _FETCHED_RELS & set(a.get("rel", "").lower().split()):
            self.urls.append(a.get("href", ""))
        if "style" in a:
            self.urls += css_urls(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    """Every URL a stylesheet fetches (``url(...)`` and ``@import``)."""
    return [m[2] or m[4] for m in _CSS_URL.finditer(css)]


def page_resources(html: str) -> list[str]:
    """Every URL an HTML page loads to show itself."""
    parser = _Resources()
    parser.feed(html)
    parser.close()
    return parser.urls


def external(urls: list[str]) -> list[str]:
    """The URLs among ``urls`` that need the network."""
    return [u for u in urls if _EXTERNAL.match(u)]


def _local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL on ``page`` names, or None for data: and fragment-only URLs."""
    parts = urlsplit(url)
    if parts.scheme or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


# --- the scanner finds what a browser would fetch (it must, or the real test proves nothing) ---

def test_the_scanner_finds_every_kind_of_external_resource() -> None:
    html = """<html><head>
      <script defer src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js"></script>
      <link rel="stylesheet" href="//fonts.example.org/css?family=Serif">
      <link rel="icon" href="http://example.org/favicon.ico">
      <style>@import "https://example.org/a.css"; body { background: url('https://x.org/b.png') }
      </style></head><body>
      <img src="_images/local.png" srcset="_images/a.png 1x, https://img.example.org/b.png 2x">
      <div style="background-image: url(https://x.org/c.png)"></div>
      <a href="https://www.sphinx-doc.org/">Sphinx</a>
      <link rel="canonical" href="https://example.org/page.html">
    </body></html>"""
    assert external(page_resources(html)) == [
        "https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js",
        "//fonts.example.org/css?family=Serif",
        "http://example.org/favicon.ico",
        "https://example.org/a.css",
        "https://x.org/b.png",
        "https://img.example.org/b.png",
        "https://x.org/c.png",
    ]


def test_the_scanner_leaves_links_and_local_files_alone() -> None:
    html = ('<script src="_static/mathjax/tex-chtml.js"></script>'
            '<link rel="stylesheet" href="_static/alabaster.css">'
            '<img src="data:image/png;base64,AAAA"><a href="https://github.com/HIPS/autograd">x</a>')
    assert page_resources(html) == ["_static/mathjax/tex-chtml.js", "_static/alabaster.css",
                                    "data:image/png;base64,AAAA"]
    assert external(page_resources(html)) == []
    assert css_urls("@font-face { src: url(fonts/a.woff) format('woff') }") == ["fonts/a.woff"]


# --- the built docs ---

BUILT = os.environ.get("GDKIT_DOCS_HTML")
needs_build = pytest.mark.skipif(
    not BUILT, reason="set GDKIT_DOCS_HTML to a built docs/_build/html (tox -e docs does)")


def _pages() -> list[Path]:
    assert BUILT
    root = Path(BUILT)
    pages = sorted(root.rglob("*.html"))
    assert (root / "index.html").is_file(), f"no built docs in {root}"
    return pages


@needs_build
def test_no_built_page_loads_anything_from_the_network() -> None:
    offenders = {}
    for page in _pages():
        found = external(page_resources(page.read_text(encoding="utf-8")))
        if found:
            offenders[str(page.relative_to(BUILT or ""))] = found
    assert offenders == {}


@needs_build
def test_no_built_stylesheet_loads_anything_from_the_network() -> None:
    root = Path(BUILT or "")
    sheets = sorted((root / "_static").rglob("*.css"))
    assert sheets, "the built docs have no stylesheet"
    offenders = {str(css.relative_to(root)): external(css_urls(css.read_text(encoding="utf-8")))
                 for css in sheets}
    assert {k: v for k, v in offenders.items() if v} == {}


@needs_build
def test_every_local_resource_a_page_loads_is_there() -> None:
    missing = []
    for page in _pages():
        for url in page_resources(page.read_text(encoding="utf-8")):
            target = _local_target(page, url)
            if target is not None and not target.is_file():
                missing.append(f"{page.name}: {url}")
    assert missing == []


@needs_build
def test_the_math_is_typeset_by_the_bundled_mathjax() -> None:
    """A page with equations loads MathJax from _static, and MathJax's fonts are there too."""
    root = Path(BUILT or "")
    with_math = [p for p in _pages() if 'class="math' in p.read_text(encoding="utf-8")]
    assert with_math, "no built page has math: the check below would prove nothing"
    for page in with_math:
        scripts = [u for u in page_resources(page.read_text(encoding="utf-8"))
                   if "mathjax" in u.lower()]
        assert scripts, f"{page.name} has math but loads no MathJax"
        assert all(_local_target(page, u) == (root / "_static/mathjax/tex-chtml.js").resolve()
                   for u in scripts), scripts
    assert sorted(p.name for p in (root / "_static/mathjax/output/chtml/fonts/woff-v2").glob(
        "MathJax_Main-*.woff")) == ["MathJax_Main-Bold.woff", "MathJax_Main-Italic.woff",
                                     "MathJax_Main-Regular.woff"]
