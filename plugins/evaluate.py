"""The ``gdkit evaluate`` and ``gdkit predict`` commands: use a trained network.

Both read a model saved by ``gdkit train --save FILE.npz`` through
:mod:`gdkit_plugins.model`::

    gdkit evaluate net.npz --data ../shared/data/mnist   # accuracy, confusion matrix, recall
    gdkit predict net.npz seven.png t10k-images-idx3-ubyte

``evaluate`` scores the 10,000 MNIST test images in the model's dtype, as
``gdkit train`` scored its epochs, so it prints the figure of the run's last
epoch. ``predict`` prints one digit per image of 28 × 28 PNG files (white
ink on black, as MNIST; ``--invert`` for black on white) or IDX image files.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Final

import gdkit
from gdkit.errors import ConfigError, ShapeError
from gdkit.protocols import FloatArray

from .model import Evaluation, TrainedNetwork, image_format, load, read_images, test_set

__all__ = ["Evaluate", "Predict"]

MNIST_IN: Final = 784
MNIST_OUT: Final = 10


def _model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.npz",
                        help="a network saved by gdkit train --save")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


def _accuracy(correct: int, total: int) -> str:
    """``9,080 / 10,000 (90.80%)``: as ``gdkit train`` prints an epoch's accuracy."""
    return f"{correct:,} / {total:,} ({100.0 * correct / total:.2f}%)"


class Evaluate:
    """Score a saved network on the MNIST test set: accuracy, confusion matrix, recall."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The ``gdkit evaluate`` options."""
        parser.description = (
            "Classify the 10,000 MNIST test images with a network saved by gdkit train --save, "
            "in the dtype it was trained in, and print the accuracy (the figure of the epoch it "
            "saved: the best validation epoch, or the last), the confusion matrix (rows: true "
            "digit, columns: predicted) and each digit's recall.")
        _model_argument(parser)
        parser.add_argument("--data", metavar="DIR", default=None,
                            help="directory holding the MNIST test files (default: "
                                 "$GDKIT_DATA, then the user cache)")
        parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                            help="download the MNIST test files into the user cache if they "
                                 "are not found (default: yes unless --data is given)")

    def run(self, args: argparse.Namespace) -> int:
        """Evaluate; 0 on success."""
        if args.download and args.data is not None:
            raise ConfigError("--download fetches MNIST into the user cache; with --data DIR "
                              "the test files must already be in DIR. Drop one of the two "
                              "options.")
        net = load(args.model)
        if net.sizes[0] != MNIST_IN or net.sizes[-1] != MNIST_OUT:
            raise ShapeError(f"{args.model}: a network of sizes {list(net.sizes)}; the MNIST "
                             f"test set needs [{MNIST_IN}, ..., {MNIST_OUT}] (28 x 28 pixels "
                             "in, one output per digit).")
        download = (args.data is None) if args.download is None else args.download
        images, labels = test_set(args.data, download=download, dtype=net.dtype)
        result = net.evaluate(images, labels)
        print(json.dumps(_as_json(net, result)) if args.json else _report(net, result))
        return 0


def _as_json(net: TrainedNetwork, result: Evaluation) -> dict[str, Any]:
    return {"model": str(net.path), "sizes": list(net.sizes), "dtype": net.dtype.name,
            "accuracy": result.accuracy, "correct": result.correct, "total": result.total,
            "confusion": result.confusion.tolist()}


def _report(net: TrainedNetwork, result: Evaluation) -> str:
    """The accuracy line, then the labelled confusion matrix with a recall column."""
    conf, recall = result.confusion, result.recall
    width = max(len(f"{int(conf.max()):,}"), 5)
    head = "true \\ predicted " + "".join(f"{d:>{width + 1}}" for d in range(conf.shape[1]))
    lines = [f"Model {net.path}: sizes {list(net.sizes)}, {net.dtype.name}",
             f"Test set: {_accuracy(result.correct, result.total)}", "",
             "Confusion matrix (rows: true digit, columns: predicted digit), and each "
             "digit's recall:",
             f"{head}   recall"]
    for digit, (row, share) in enumerate(zip(conf, recall, strict=True)):
        cells = "".join(f"{int(c):>{width + 1},}" for c in row)
        lines.append(f"{digit:>16} {cells}   {100 * share:6.2f}%")
    return "\n".join(lines)


class Predict:
    """Classify 28 x 28 digit images (PNG or IDX files) with a saved network."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The ``gdkit predict`` options."""
        parser.description = (
            "Print the digit a network saved by gdkit train --save reads in each image: "
            "'FILE: DIGIT' for a 28 x 28 PNG, 'FILE[i]: DIGIT' for each image of an IDX "
            "image file. Pixels follow MNIST: light ink on a dark ground (0 background, 255 "
            "ink); pass --invert for black ink on white. Colour PNGs are turned grey. PNGs "
            "need Pillow (pip install 'gdkit[images]').")
        _model_argument(parser)
        parser.add_argument("files", metavar="FILE", nargs="+",
                            help="a 28 x 28 PNG, or an IDX image file (gzipped or not)")
        parser.add_argument("--invert", action="store_true",
                            help="the images are black ink on a white ground: use 1 - pixel")

    def run(self, args: argparse.Namespace) -> int:
        """Predict; 0 on success."""
        net = load(args.model)
        if net.sizes[0] != MNIST_IN:
            raise ShapeError(f"{args.model}: a network of sizes {list(net.sizes)} reads "
                             f"{net.sizes[0]} inputs, not the {MNIST_IN} pixels of a 28 x 28 "
                             "image.")
        # Every file is read before anything is printed: a bad one stops the run cleanly.
        images = [(name, read_images(name, invert=args.invert)) for name in args.files]
        rows = [row for name, pixels in images for row in _predictions(net, name, pixels)]
        if args.json:
            print(json.dumps({"model": args.model, "predictions": rows}))
        else:
            print("\n".join(f"{r['file']}{_index(r['index'])}: {r['digit']}" for r in rows))
        return 0


def _predictions(net: TrainedNetwork, name: str, pixels: FloatArray) -> list[dict[str, Any]]:
    """One row per image: the file, the image's index in an IDX file (else None), the digit."""
    indexed = image_format(name) == "idx"
    return [{"file": name, "index": i if indexed else None, "digit": d}
            for i, d in enumerate(net.predict(pixels).tolist())]


def _index(index: int | None) -> str:
    return "" if index is None else f"[{index}]"


@gdkit.hookimpl
def gdkit_commands() -> dict[str, Any]:
    return {"evaluate": Evaluate, "predict": Predict}
