"""Commands contributed by plugins (``gdkit_commands``): the built-in ``train``
and a third-party distribution's, as a user meets them."""

from __future__ import annotations

import ast
import os
import pathlib
import re
import subprocess

import pytest

import gdkit
from gdkit.cli import build_parser, main
from gdkit.errors import PluginLoadWarning

from .conftest import MakeDist
from .test_cli import gdkit_cmd

HELLO = '''
import gdkit
from gdkit.errors import ConfigError

class Hello:
    """Say hello to someone."""

    def configure(self, parser):
        parser.add_argument("--name", default="world")
        parser.add_argument("--fail", choices=("config", "bug"))

    def run(self, args):
        if args.fail == "config":
            raise ConfigError("hello: --name must not be empty.")
        if args.fail == "bug":
            return 1 / 0
        print(f"hello, {args.name}; explicit: {sorted(args.explicit)}")
        return 0

@gdkit.hookimpl
def gdkit_commands():
    return {"hello": Hello}
'''


def run(*args: str, site: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GDKIT_DISABLE_PLUGIN_AUTOLOAD", "GDKIT_STRICT_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([*gdkit_cmd(), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_a_third_party_command_runs_as_the_user_types_it(make_dist: MakeDist) -> None:
    site = make_dist("gdkit-hello", "gdkit_hello", HELLO, version="0.3")
    out = run("hello", "--name", "Nielsen", site=site)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello, Nielsen; explicit: ['name']\n"
    helped = run("--help", site=site)
    assert "hello" in helped.stdout and "Say hello to someone" in helped.stdout
    assert "train" in helped.stdout  # the built-in command is there too
    listed = run("plugins", site=site)
    assert "commands:" in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == ["hello"])
    assert "gdkit_hello" in row and "gdkit-hello 0.3" in row


def test_a_commands_errors_are_one_line_and_name_the_plugin(make_dist: MakeDist) -> None:
    site = make_dist("gdkit-hello", "gdkit_hello", HELLO, version="0.3")
    config = run("hello", "--fail", "config", site=site)
    assert config.returncode == 2
    assert config.stderr == "gdkit hello: error: hello: --name must not be empty.\n"
    bug = run("hello", "--fail", "bug", site=site)
    assert bug.returncode == 1
    assert "Traceback" not in bug.stderr and len(bug.stderr.splitlines()) == 1
    for words in ("plugin 'gdkit_hello'", "gdkit-hello 0.3", "ZeroDivisionError",
                  "bug in that plugin", "--debug"):
        assert words in bug.stderr, bug.stderr
    debug = run("--debug", "hello", "--fail", "bug", site=site)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


@pytest.mark.filterwarnings("default::gdkit.errors.PluginLoadWarning")
def test_the_shells_own_commands_cannot_be_replaced(make_dist: MakeDist,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    make_dist("gdkit-evil", "gdkit_evil", HELLO.replace('{"hello": Hello}',
                                                        '{"minimize": Hello}'))
    assert main(["minimize", "valley", "--max-iter", "3"]) == 1  # ran, not converged
    out, err = capsys.readouterr()
    assert "hello" not in out
    assert err.splitlines()[0] == (
        "gdkit: warning: plugin 'gdkit_evil' (distribution 'gdkit-evil 1.0') supplies a command "
        "'minimize', which is the shell's own; it is ignored. Ask its author to rename it.")
    with pytest.warns(PluginLoadWarning, match="'minimize', which is the shell's own"):
        build_parser()


def test_a_command_registered_twice_names_both(make_dist: MakeDist,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    make_dist("gdkit-hello", "gdkit_hello", HELLO)
    make_dist("gdkit-hi", "gdkit_hi", HELLO)
    assert main(["hello"]) == 1
    err = capsys.readouterr().err
    assert "registered twice" in err and "gdkit-hello" in err and "gdkit-hi" in err
    assert main(["minimize", "valley", "--max-iter", "2"]) == 1  # the rest still runs


def test_a_command_that_cannot_be_set_up_breaks_only_itself(
        make_dist: MakeDist, capsys: pytest.CaptureFixture[str]) -> None:
    make_dist("gdkit-broken", "gdkit_broken", HELLO.replace(
        'parser.add_argument("--name", default="world")', 'raise RuntimeError("no parser")'))
    assert main(["minimize", "valley", "--max-iter", "2"]) == 1  # it runs (not converged)
    assert main(["hello", "--name", "x"]) == 1
    err = capsys.readouterr().err
    assert "could not be set up: RuntimeError: no parser" in err and "gdkit_broken" in err


def test_a_command_that_is_not_one_is_refused(make_dist: MakeDist,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    make_dist("gdkit-odd", "gdkit_odd", HELLO.replace("def run(self, args):",
                                                      "def walk(self, args):"))
    assert main(["hello"]) == 1
    assert "without run, so it is not a command" in capsys.readouterr().err


@pytest.mark.usefixtures("fresh_registry")
def test_train_comes_from_the_network_plugin() -> None:
    info = gdkit.get_registry().lookup("command", "train")
    assert (info.plugin, info.distribution) == ("train", "gdkit")


def test_the_core_knows_no_command_but_its_own() -> None:
    core = pathlib.Path(gdkit.__file__).parent
    for path in core.glob("*.py"):
        text = path.read_text()
        for word in ("mnist", "train", "accuracy"):
            assert f'"{word}"' not in text and f"'{word}'" not in text, (path, word)


# -- library errors name no flag; each command words them in its own (issue 25) ----------
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
_COMMAND_MODULES = {"cli.py", "command.py"}


def _flags_in_raised_messages(path: pathlib.Path) -> list[str]:
    """Every ``--flag`` in a string of a ``raise`` statement (an f-string's literal
    parts included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            found += [f"{path.name}:{node.lineno} {flag}" for sub in ast.walk(node.exc)
                      if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
                      for flag in _FLAG.findall(sub.value)]
    return found


def test_no_library_error_outside_the_command_modules_names_a_flag() -> None:
    root = pathlib.Path(gdkit.__file__).parent
    modules = [p for p in root.rglob("*.py") if p.name not in _COMMAND_MODULES]
    assert len(modules) > 40
    assert [f for p in modules for f in _flags_in_raised_messages(p)] == []
    assert not hasattr(gdkit.errors.GdkitError("x"), "cli")
    # the scan sees what it looks for: the command modules do name flags
    assert _flags_in_raised_messages(root / "command.py")


def test_a_command_words_the_advice_of_a_setting_in_its_own_flags() -> None:
    from gdkit.command import worded

    exc = gdkit.errors.DivergenceError("C became inf. The steps are too large: try a smaller "
                                       "η (gdkit.step_rule('fixed', eta=...)).", iteration=3,
                                       last_finite_cost=1.0, setting="eta",
                                       what="C became inf. The steps are too large:")
    assert worded(exc, {"eta": "{what} try --eta 0.1."}) == ("C became inf. The steps are too "
                                                             "large: try --eta 0.1.")
    assert worded(exc, {"gradient": "{what} --gradient central"}) == str(exc)
    assert worded(exc, {"eta": lambda e: f"at {e.iteration}"}) == "at 3"


def test_the_shell_prints_a_divergence_in_minimizes_flags_and_trains_own(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["minimize", "valley", "--step", "fixed", "--step-option", "eta=50"]) == 1
    err = capsys.readouterr().err
    assert err.endswith("try a smaller η (--step 'fixed(eta=...)') or an adaptive rule such "
                        "as --step armijo.\n") and "gdkit.step_rule" not in err
    from gdkit_plugins.train import Train

    assert "(--eta)" in Train.advice["eta"]
