"""gdkit.validate: one set of checks for parts' options and commands' flags."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np
import pytest

from gdkit.errors import ConfigError
from gdkit.validate import argument, choice, flag, float_dtype, integer, number


@pytest.mark.parametrize(("call", "message"), [
    (lambda: number("armijo", "c", 2, low=0.0, high=1.0), "armijo: c must be a number in (0, 1), "
                                                          "got 2."),
    (lambda: number("fixed", "eta", math.inf, low=0.0), "eta must be a number > 0, got inf."),
    (lambda: number("fixed", "eta", "1", low=0.0), "fixed: eta must be a number > 0, got '1'."),
    (lambda: number("x", "y", True), "x: y must be a number (finite), got True."),
    (lambda: integer("rosenbrock", "dim", 1, minimum=2), "rosenbrock: dim must be an integer "
                                                          ">= 2, got 1."),
    (lambda: integer("network", "n_samples", 2.0, minimum=1), "got 2.0"),
    (lambda: integer("network", "n_samples", False, minimum=0), "got False"),
    (lambda: flag("momentum", "nesterov", 1), "momentum: nesterov must be True or False, got 1."),
    (lambda: choice("clip", "norm", "l3", ("l2", "max")), "must be one of 'l2', 'max', got 'l3'."),
    (lambda: float_dtype("network", "dtype", "int8"), "network: dtype must be 'float64' or "
                                                       "'float32', got 'int8'."),
    (lambda: float_dtype("network", "dtype", "float16"), "got 'float16'"),
    (lambda: float_dtype("minimize", "dtype", "nonsense", options=None), "a floating dtype"),
])
def test_a_bad_value_names_the_part_the_argument_and_the_value(call: Callable[[], object],
                                                               message: str) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    assert message in str(info.value)


def test_good_values_come_back_in_their_canonical_type() -> None:
    assert integer("p", "n", np.int32(3)) == 3 and type(integer("p", "n", np.int64(3))) is int
    assert number("p", "x", np.float32(0.5), low=0.0) == 0.5
    assert number("p", "x", 0, low=0.0, low_closed=True) == 0.0
    assert float_dtype("p", "dtype", np.float32) == np.dtype(np.float32)
    assert float_dtype("p", "dtype", "longdouble", options=None).kind == "f"
    assert flag("p", "f", np.True_) is True


def test_argument_makes_the_same_rule_an_argparse_type(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    parser = argparse.ArgumentParser(prog="gdkit train")
    parser.add_argument("--epochs", type=argument(integer, minimum=0))
    parser.add_argument("--eta", type=argument(number, low=0.0))
    args = parser.parse_args(["--epochs", "3", "--eta", "0.5"])
    assert (args.epochs, args.eta) == (3, 0.5)
    for argv, said in ((["--epochs", "-1"], "argument --epochs: must be an integer >= 0, got -1."),
                       (["--epochs", "2.5"], "argument --epochs: must be an integer >= 0, got "
                                             "'2.5'."),
                       (["--eta", "0"], "argument --eta: must be a number > 0, got 0.0.")):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 2
        assert said in capsys.readouterr().err
