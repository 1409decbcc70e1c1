"""The plugin registry: real entry points of temporary distributions, as pip
would install them, and every broken-plugin case."""

from __future__ import annotations

import numpy as np
import pytest

import gdkit
from gdkit.errors import ConfigError, PluginError, PluginLoadWarning, UnknownPluginError
from gdkit.registry import KINDS, Registry

from .conftest import MakeDist

HALVING = """
import gdkit

class Halving:
    '''A step rule that halves its η each step.'''
    def __init__(self, eta=1.0):
        self.eta = eta
    def step(self, v, grad, ctx):
        eta = self.eta
        v -= eta * grad
        self.eta = eta / 2
        return eta

@gdkit.hookimpl
def gdkit_step_rules():
    return {"halving": Halving}
"""

BUILTINS = {
    "objective": {"quadratic", "valley", "rosenbrock"},
    "gradient source": {"analytic", "forward", "central", "complex-step"},
    "step rule": set(),  # every built-in step rule is a chain of these:
    "transform": {"momentum", "clip", "weight-decay"},
    "step size": {"fixed", "armijo", "normalized", "bold-driver", "barzilai-borwein"},
    "cost": {"quadratic", "cross-entropy", "log-likelihood"},
}


@pytest.mark.usefixtures("fresh_registry")
def test_builtins_come_from_gdkits_own_entry_points() -> None:
    reg = gdkit.get_registry()
    for kind in KINDS:
        parts = reg.parts(kind)
        assert BUILTINS[kind] <= set(parts), kind
        for name in BUILTINS[kind]:
            assert parts[name].distribution == "gdkit"
            assert parts[name].version == gdkit.__version__
            assert parts[name].factory.__module__.startswith("gdkit_plugins.")


def test_core_never_imports_the_builtins() -> None:
    import pathlib

    core = pathlib.Path(gdkit.__file__).parent
    for path in core.glob("*.py"):
        assert "gdkit_plugins" not in path.read_text(), path


def test_third_party_plugin_by_name(make_dist: MakeDist) -> None:
    make_dist("gdkit-halving", "gdkit_halving", HALVING, version="2.5")
    info = gdkit.get_registry().lookup("step rule", "halving")
    assert (info.plugin, info.distribution, info.version) == ("gdkit_halving", "gdkit-halving",
                                                             "2.5")
    res = gdkit.minimize("valley", [1.0, 1.0], step="halving", max_iter=3)
    # η = 1, 1/2, 1/4 on ∇C = (v1, 5 v2): v1 → 0 after the first step.
    assert res.history.eta[:3].tolist() == [1.0, 0.5, 0.25]
    assert res.x[0] == 0.0
    assert type(gdkit.step_rule("halving", eta=0.5)).__name__ == "Halving"


def test_autoload_switch_loads_only_gdkits_builtins(make_dist: MakeDist,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist("gdkit-halving", "gdkit_halving", HALVING)
    monkeypatch.setenv("GDKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    gdkit.reset_registry()
    assert "fixed" in gdkit.get_registry().parts("step size")
    with pytest.raises(UnknownPluginError, match="GDKIT_DISABLE_PLUGIN_AUTOLOAD"):
        gdkit.step_rule("halving")
    monkeypatch.setenv("GDKIT_DISABLE_PLUGIN_AUTOLOAD", "0")
    gdkit.reset_registry()
    assert "halving" in gdkit.get_registry().parts("step rule")


def test_import_failure_is_a_warning_and_others_still_load(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", "raise ImportError('needs libfoo')\n",
              version="0.3")
    make_dist("gdkit-halving", "gdkit_halving", HALVING)
    with pytest.warns(PluginLoadWarning, match=r"gdkit_broken.*gdkit-broken 0\.3.*needs libfoo"):
        parts = gdkit.get_registry().parts("step rule")
    assert "halving" in parts and "fixed" in gdkit.get_registry().parts("step size")
    with pytest.raises(UnknownPluginError, match=r"gdkit_broken.*failed to load.*needs libfoo"):
        gdkit.step_rule("gdkit_broken")
    with pytest.raises(UnknownPluginError, match=r"Note: plugin 'gdkit_broken'"):
        gdkit.step_rule("heavy-ball")


def test_strict_switch_makes_import_failure_an_error(make_dist: MakeDist,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist("gdkit-broken", "gdkit_broken", "import no_such_module_xyz\n")
    monkeypatch.setenv("GDKIT_STRICT_PLUGINS", "1")
    gdkit.reset_registry()
    with pytest.raises(PluginError, match=r"gdkit-broken.*no_such_module_xyz"):
        gdkit.get_registry().parts("objective")


def test_duplicate_name_names_both_distributions(make_dist: MakeDist) -> None:
    make_dist("gdkit-dup", "gdkit_dup", HALVING.replace('"halving"', '"fixed"'), version="9.9")
    with pytest.raises(PluginError, match=r"'fixed' is registered twice.*gdkit.*gdkit-dup 9\.9"):
        gdkit.step_rule("fixed")
    # The other parts still work.
    assert gdkit.step_rule("armijo") is not None


def test_factory_building_the_wrong_thing(make_dist: MakeDist) -> None:
    code = """
    import gdkit
    class NotARule:
        pass
    @gdkit.hookimpl
    def gdkit_step_rules():
        return {"bogus": NotARule}
    """
    make_dist("gdkit-bogus", "gdkit_bogus", code, version="0.1")
    with pytest.raises(PluginError, match=r"'bogus'.*gdkit_bogus.*gdkit-bogus 0\.1.*NotARule "
                                          r"without step.*Fix the plugin"):
        gdkit.step_rule("bogus")


def test_hook_returning_garbage_is_a_load_failure(make_dist: MakeDist) -> None:
    code = """
    import gdkit
    @gdkit.hookimpl
    def gdkit_objectives():
        return ["not", "a", "mapping"]
    """
    make_dist("gdkit-garbage", "gdkit_garbage", code)
    with pytest.warns(PluginLoadWarning, match="must return a mapping"):
        gdkit.get_registry().parts("objective")


def test_unknown_name_lists_known_names_and_nearest_match() -> None:
    with pytest.raises(UnknownPluginError) as ei:
        gdkit.step_rule("armijio")
    msg = str(ei.value)
    assert "Did you mean 'armijo'?" in msg
    assert "barzilai-borwein" in msg and "fixed" in msg
    assert isinstance(ei.value, LookupError)


def test_unknown_option_names_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match=r"'fixed' does not take option\(s\) lr; it takes: eta"):
        gdkit.step_rule("fixed", lr=0.1)


def test_register_a_plugin_object_in_code() -> None:
    class MyPlugin:
        @gdkit.hookimpl
        def gdkit_objectives(self) -> dict[str, object]:
            return {"sphere": lambda: gdkit.as_objective(lambda v: float(v @ v), 3,
                                                         jac=lambda v: 2 * v)}

    reg = Registry(autoload=False)
    name = reg.register(MyPlugin(), "mine")
    obj = reg.create("objective", "sphere")
    assert obj.cost(np.ones(3)) == 3.0
    assert reg.lookup("objective", "sphere").distribution == "(registered in code)"
    reg.unregister(name)
    with pytest.raises(UnknownPluginError):
        reg.lookup("objective", "sphere")


def test_invalid_hook_name_is_a_plugin_error() -> None:
    class Typo:
        @gdkit.hookimpl
        def gdkit_step_rule(self) -> dict[str, object]:  # missing the final s
            return {}

    with pytest.raises(PluginError, match="gdkit_step_rule"):
        Registry(autoload=False).register(Typo(), "typo")
