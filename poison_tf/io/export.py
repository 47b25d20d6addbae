"""Exporting a Keras model for serving: a TF SavedModel (TF Serving) or a TFLite flatbuffer,
each checked against the Keras model on the same sample inputs before it is kept.

Segmenters (`YoloV8Seg`) export their raw head outputs (DFL box logits, class logits, mask
coefficients, prototypes): NMS and mask assembly have data-dependent output sizes that serving
runtimes handle poorly, so they stay outside the graph (README: "Exporting models" shows how to
run `poison_tf.models.yolo_seg_postprocess` on the exported outputs).
The export is written beside its destination and renamed when the check passed, so a failed
export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from poison_tf.io.atomic import atomic_dir, atomic_file

FORMATS = ("saved_model", "tflite")
SERVE_ENDPOINT = "serve"


def input_spec(model: keras.Model, input_size: int) -> tf.TensorSpec:
    """[None, H, W, C] of the model's input, unknown sides set to `input_size` (TFLite needs them)."""
    shape = list(model.input_shape)
    fixed = [None] + [d if d is not None else input_size for d in shape[1:3]] + [shape[3] or 3]
    return tf.TensorSpec(fixed, tf.float32, name="image")


def sample_inputs(model: keras.Model, spec: tf.TensorSpec, count: int = 2, seed: int = 0):
    """Random images in the model's input range: 0..255 for YoloV8Seg, [0, 1] otherwise."""
    from poison_tf.models.yolo_v8_seg import YoloV8Seg

    scale = 255.0 if isinstance(model, YoloV8Seg) else 1.0
    shape = [count, *spec.shape[1:]]
    return (np.random.default_rng(seed).random(shape, dtype=np.float32) * scale).astype(np.float32)


def _as_dict(outputs) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    if isinstance(outputs, list | tuple):
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(outputs)}
    return {"output_0": np.asarray(outputs)}


def max_difference(expected: dict, got: dict) -> float:
    """Max abs difference over the outputs, matched by name, else by shape (runtimes may rename)."""
    if set(expected) == set(got):
        left, right = [expected[k] for k in sorted(expected)], [got[k] for k in sorted(expected)]
    else:
        left = sorted(expected.values(), key=lambda a: (a.shape, float(np.abs(a).sum())))
        right = sorted(got.values(), key=lambda a: (a.shape, float(np.abs(a).sum())))
    if [a.shape for a in left] != [b.shape for b in right]:
        raise ValueError(
            f"exported outputs {[b.shape for b in right]} differ from Keras' {[a.shape for a in left]}"
        )
    return max(float(np.abs(a - b).max()) for a, b in zip(left, right))


def check_difference(difference: float, expected: dict, tolerance: float, what: str) -> None:
    """Raises ExportMismatch when `difference` exceeds `tolerance` × the outputs' scale."""
    scale = max(1.0, max(float(np.abs(v).max()) for v in expected.values()))
    if not difference <= tolerance * scale:
        raise ExportMismatch(
            f"{what} differs from the Keras model by {difference:.3g} (allowed {tolerance * scale:.3g})"
        )


class ExportMismatch(RuntimeError):
    """The exported model does not compute what the Keras model computes: nothing is written."""


def _save(model: keras.Model, path: str, spec: tf.TensorSpec) -> None:
    model.export(path, format="tf_saved_model", input_signature=[spec], verbose=False)


def export_saved_model(
    model: keras.Model, path: str, input_size: int = 224, tolerance: float = 1e-4
) -> float:
    """Writes a SavedModel (endpoint `serve`) at `path`; returns its max abs difference to Keras.

    Args:
        model: the Keras model.
        path: the SavedModel folder to write (replaced if it exists).
        input_size: side used for unknown spatial input dimensions.
        tolerance: largest accepted difference, relative to max(1, the outputs' max abs value).

    Raises:
        ExportMismatch: the exported model's outputs differ more than `tolerance` (nothing written).
    """
    spec = input_spec(model, input_size)
    images = sample_inputs(model, spec)
    expected = _as_dict(model(images, training=False))
    with atomic_dir(path) as tmp:
        target = os.path.join(tmp, "model")
        _save(model, target, spec)
        loaded = tf.saved_model.load(target)  # kept referenced: its variables back `serve`
        got = _as_dict(loaded.serve(tf.constant(images)))
        del loaded
        difference = max_difference(expected, got)
        check_difference(difference, expected, tolerance, f"SavedModel {path}")
        for name in os.listdir(target):
            shutil.move(os.path.join(target, name), os.path.join(tmp, name))
        os.rmdir(target)
    return difference


def export_tflite(
    model: keras.Model, path: str, input_size: int = 224, tolerance: float = 1e-4
) -> float:
    """Writes a float32 TFLite file at `path` (batch 1); returns its max abs difference to Keras.

    Arguments and errors as `export_saved_model`.
    """
    spec = input_spec(model, input_size)
    images = sample_inputs(model, spec, count=1)
    expected = _as_dict(model(images, training=False))
    with tempfile.TemporaryDirectory(prefix="poison_tf_export_") as tmp:
        _save(model, tmp, tf.TensorSpec([1, *spec.shape[1:]], tf.float32, name="image"))
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        flatbuffer = converter.convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    (input_name,) = runner.get_input_details()
    got = _as_dict(runner(**{input_name: images}))
    difference = max_difference(expected, got)
    check_difference(difference, expected, tolerance, f"TFLite {path}")
    with atomic_file(path, "wb") as handle:
        handle.write(flatbuffer)
    return difference
