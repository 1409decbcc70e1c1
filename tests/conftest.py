"""Shared fixtures: a fresh plugin registry per test that needs one, and
temporary third-party distributions installed the way pip would leave them
(a ``*.dist-info`` folder with ``entry_points.txt`` on ``sys.path``)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import gdkit

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          database=None)
settings.load_profile("ci")


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Reload the entry points before and after the test."""
    gdkit.reset_registry()
    yield
    gdkit.reset_registry()


MakeDist = Callable[..., Path]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              fresh_registry: None) -> Iterator[MakeDist]:
    """Create a distribution ``name`` with one module ``module`` (source
    ``code``) listed under the ``gdkit.plugins`` entry-point group, on a
    sys.path entry of its own. Returns the sys.path entry."""
    created: list[str] = []

    def make(name: str, module: str, code: str, *, version: str = "1.0",
             entry_name: str | None = None) -> Path:
        site = tmp_path / f"site-{name}"
        site.mkdir()
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            f"[gdkit.plugins]\n{entry_name or module} = {module}\n")
        monkeypatch.syspath_prepend(str(site))
        created.append(module)
        importlib.invalidate_caches()
        gdkit.reset_registry()
        return site

    yield make
    for module in created:
        sys.modules.pop(module, None)
