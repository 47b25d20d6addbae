"""Keras models and arrays inside a detector's single HDF5 file.

A detector that needs the classifier (STRIP, fine-pruning, feature-space) must stay usable
when only its file travels, so the classifier goes into the same file: its Keras
architecture config as JSON (a uint8 dataset) plus one dataset per weight variable, in
`model.weights` order. Storing datasets directly (rather than `save_weights` to a temporary
`.weights.h5` and copying groups) keeps the layout independent of Keras' own weight-file
layout, which has changed between Keras versions.

A stored classifier is untrusted input when it comes back: it is rebuilt with
`keras.saving.deserialize_keras_object(..., safe_mode=True)`, so Lambda layers (arbitrary
bytecode) are refused and unknown custom layers fail with a message naming the file.
"""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np

from poison_tf.errors import UserInputError, require
from poison_tf.io.safe_read import parse_json, require_finite


def write_arrays(root: h5py.Group, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Stores named arrays as datasets of group `name`.

    Args:
        root: the open file (or a group of it).
        name: the new group's name.
        arrays: {dataset name: array}.
    """
    group = root.create_group(name)
    for key, value in arrays.items():
        group.create_dataset(key, data=np.asarray(value))


def read_arrays(root: h5py.Group, name: str) -> dict[str, np.ndarray]:
    """The arrays `write_arrays` stored, fully read into memory.

    Args:
        root: the open file (or a group of it).
        name: the group's name.

    Returns:
        {dataset name: array}.
    """
    group = root[name]
    arrays = {key: np.asarray(group[key][()]) for key in group}
    for key, value in arrays.items():  # statistics a detector scores with: NaN = nonsense
        if value.dtype.kind == "f":
            require_finite(value, f"array {group.name}/{key}")
    return arrays


def write_model(root: h5py.Group, name: str, model: keras.Model) -> None:
    """Stores a Keras model (architecture config + every weight variable) in group `name`.

    Args:
        root: the open file (or a group of it).
        name: the new group's name.
        model: a serialisable Keras model.

    Raises:
        UserInputError: the model cannot be serialised (a subclassed model without get_config).
    """
    try:
        config = keras.saving.serialize_keras_object(model)
    except (NotImplementedError, TypeError, ValueError) as exc:
        raise UserInputError(
            f"model {model.name!r} cannot be serialised for the detector file ({exc}); "
            "subclassed models need get_config()"
        ) from exc
    # The compile state is not needed to score, and old losses/metrics may not round-trip.
    config.pop("compile_config", None)
    group = root.create_group(name)
    # A dataset, not an attribute: HDF5 attributes are limited to 64 KiB, and the config of a
    # ResNet-sized model is larger.
    group.create_dataset("config", data=np.frombuffer(json.dumps(config).encode(), np.uint8))
    group.attrs["keras_version"] = keras.__version__
    weights = group.create_group("weights")
    for index, variable in enumerate(model.weights):
        dataset = weights.create_dataset(f"{index:05d}", data=np.asarray(variable.numpy()))
        dataset.attrs["path"] = variable.path
    group.attrs["n_weights"] = len(model.weights)


def read_model(
    root: h5py.Group, name: str, path: str, custom_objects: dict | None = None
) -> keras.Model:
    """Rebuilds the model `write_model` stored, in safe mode; problems name `path`.

    Args:
        root: the open file (or a group of it).
        name: the group's name.
        path: the file, named in error messages.
        custom_objects: Keras custom objects of the stored model.

    Returns:
        The model with its weights.

    Raises:
        UserInputError: a corrupt config, a model that cannot be rebuilt safely, or weights that
            do not fit.
    """
    group = root[name]
    raw = np.asarray(group["config"][()])
    require(raw.dtype == np.uint8, f"{path}: the config of '{name}' is not stored as bytes")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise UserInputError(f"{path}: the config of '{name}' is not UTF-8 JSON") from None
    config = parse_json(text, f"{path}: the config of '{name}'")
    try:
        model = keras.saving.deserialize_keras_object(
            config, custom_objects=custom_objects, safe_mode=True
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise UserInputError(
            f"{path}: the model stored under '{name}' cannot be rebuilt safely ({exc}); "
            "custom layers need custom_objects, Lambda layers are refused"
        ) from exc
    stored = group["weights"]
    n_weights = int(group.attrs["n_weights"])
    require(
        len(model.weights) == n_weights == len(stored),
        f"{path}: model '{name}' has {len(model.weights)} weights, the file stores "
        f"{len(stored)} of {n_weights}",
    )
    for index, variable in enumerate(model.weights):
        value = np.asarray(stored[f"{index:05d}"][()])
        require_finite(value, f"{path}: weight {index} of '{name}' ({variable.path})")
        require(
            tuple(value.shape) == tuple(variable.shape),
            f"{path}: weight {index} of '{name}' ({variable.path}) has shape {value.shape}, "
            f"the model expects {tuple(variable.shape)}",
        )
        variable.assign(value)
    return model
