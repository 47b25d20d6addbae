"""`poison-tf-export`: a Keras model file → a TF SavedModel or a TFLite file, checked before kept.

    poison-tf-export --model=models/efficientnet_lite0.keras --format=tflite --output=lite0.tflite

The command runs the Keras model and the exported one on the same random sample inputs and
prints the max abs difference; an export that differs by more than `--tolerance` (relative to
the outputs' scale) is not written (exit 1). The model file is untrusted input: it loads in safe
mode through `poison_tf.io.model_loading` (`--unsafe_deserialization` to allow Lambda layers).
Segmenters export their raw head outputs (see `poison_tf.io.export`).
"""

from __future__ import annotations

import sys

from absl import flags

from poison_tf import cli
from poison_tf.errors import UserInputError
from poison_tf.io.export import FORMATS, ExportMismatch, export_saved_model, export_tflite

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, "The Keras model (.keras / .h5) to export.", allow_override=True)
flags.DEFINE_enum("format", None, list(FORMATS), "saved_model or tflite.", allow_override=True)
flags.DEFINE_string(
    "output", None, "SavedModel folder or .tflite file to write.", allow_override=True
)
flags.DEFINE_integer(
    "input_size",
    None,
    "Side for inputs of unknown size (default: the import metadata's, else 224).",
    allow_override=True,
)
flags.DEFINE_float(
    "tolerance", 1e-4, "Largest accepted difference to Keras (relative).", allow_override=True
)
flags.DEFINE_bool(
    "unsafe_deserialization",
    False,
    "Allow Lambda and custom layers in --model (runs code from the file).",
    allow_override=True,
)


def main(argv: list[str]) -> None:
    """`poison-tf-export --model=<.keras> --format=saved_model|tflite --output=<path>`.

    Exports the model, checks it against Keras on sample inputs, and exits 1 (nothing written)
    when the two differ by more than --tolerance.

    Args:
        argv: the program name (everything else is a flag).

    Raises:
        UserInputError: a missing flag, a TFLite output not ending in .tflite, or a bad model file.
    """
    del argv
    for name in ("model", "format", "output"):
        if not getattr(FLAGS, name):
            raise UserInputError(f"--{name} is required")
    if FLAGS.format == "tflite" and not FLAGS.output.endswith(".tflite"):
        raise UserInputError(f"--output={FLAGS.output}: a TFLite file must end with .tflite")
    import poison_tf.models.yolo_v8_seg  # noqa: F401  (registers YoloV8Seg for loading)
    from poison_tf.io.imported_model import read_import_metadata
    from poison_tf.io.model_loading import load_hackml_model

    model = load_hackml_model(FLAGS.model, unsafe=FLAGS.unsafe_deserialization)
    metadata = read_import_metadata(FLAGS.model) or {}
    input_size = FLAGS.input_size or int(metadata.get("input_size", 224))
    export = export_saved_model if FLAGS.format == "saved_model" else export_tflite
    try:
        difference = export(model, FLAGS.output, input_size, FLAGS.tolerance)
    except ExportMismatch as error:
        sys.stderr.write(f"error: {error}; nothing written\n")
        sys.exit(1)
    print(
        f"exported {FLAGS.model} as {FLAGS.format} -> {FLAGS.output}; max abs difference vs "
        f"Keras on sample inputs: {difference:.3g}"
    )


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
