"""Helpers for the HackML tests: the in-process CLI runner, model files, images, a detector.

The stand-in detector follows the `poison_tf.defences.base` contract (score, threshold,
input_shape, saved as one HDF5 file) without depending on any real detector, so the eval CLI's
detector path is tested on its own.
"""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
from cli_runner import run_program

from poison_tf import hackml_eval
from poison_tf.defences.base import Detector, register_detector

SHARED_HACKML = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "hackml"


def run_eval(argv: list[str]) -> int:
    """Runs `poison-tf-eval` in this process; returns its exit status."""
    return run_program(hackml_eval.main, "poison-tf-eval", argv)


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def faces(n: int, seed: int = 0, low: int = 0, high: int = 256) -> np.ndarray:
    """Random uint8 "faces" (n, 55, 47, 3) with pixel values in [low, high)."""
    return np.random.default_rng(seed).integers(low, high, size=(n, 55, 47, 3), dtype=np.uint8)


def write_keras2_weights(path: str, model, reverse_order: bool = True) -> None:
    """A weights-only file in the Keras-2 layout of the HackML files (`layer_names`,
    `<layer>/<layer>/kernel:0`), layers listed in reverse so loading must go by name."""
    layers = list(reversed(model.layers)) if reverse_order else list(model.layers)
    with h5py.File(path, "w") as handle:
        handle.attrs["backend"] = "tensorflow"
        handle.attrs["keras_version"] = "2.2.4"
        handle.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
        for layer in layers:
            group = handle.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = (
                np.array([name.encode() for name in names]) if names else np.array([])
            )
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))


@register_detector
class BrightnessDetector(Detector):
    """Flags images whose mean pixel (in the model's input scale) is above the threshold."""

    kind = "test_hackml_brightness"

    def fit(self, clean_x, clean_y=None):
        self.input_shape = tuple(clean_x.shape[1:])
        self.calibrate(self.score(clean_x))
        return self

    def score(self, x) -> np.ndarray:
        return np.asarray(x, np.float64).mean(axis=(1, 2, 3))

    def get_config(self) -> dict:
        return {}

    def _save_state(self, root) -> None:
        root.attrs["stand_in"] = True

    @classmethod
    def _restore(cls, root, config, path, custom_objects):
        return cls()


def save_brightness_detector(path: str, threshold: float, input_shape=(55, 47, 3)) -> None:
    detector = BrightnessDetector()
    detector.threshold = threshold
    detector.input_shape = tuple(input_shape)
    detector.save(path)
