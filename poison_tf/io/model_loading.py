"""Loading a CSAW-HackML model file in Keras 3: full Keras-2 models and weights-only files.

A model file made by someone else is untrusted input (DESIGN.md): Lambda layers carry
marshalled Python code and unknown layer classes mean custom code, so both are refused unless
the caller passes `unsafe=True` (the CLIs' `--unsafe_deserialization`). The refusal is decided
from the stored `model_config` before Keras deserialises anything.

Which kind of file it is comes from its HDF5 attributes (`../shared/notes/hackml.md` §4):
- `model_config` present: a full model, loaded with `keras.models.load_model(compile=False)`.
  Old training configs (`lr`, `reduction="auto"`) do not compile in Keras 3, and scoring needs no
  optimizer anyway.
- `layer_names` but no `model_config`: Keras-2 weights-only (all four HackML BadNets, lab 3). The
  DeepID BadNet is rebuilt and each layer gets the weights stored under its name, after every
  shape has been checked, so a file for another architecture fails with a message instead of a
  half-loaded model. The class count is read from the file's `output` layer.
- Keras-3 `.weights.h5` (groups `layers/` and `vars/`) and `.keras` archives also load, so
  models re-saved by this toolkit work the same way.
Missing, non-HDF5 or truncated files are a `UserInputError` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator

import h5py
import keras
import numpy as np
from absl import logging

from poison_tf.data.hackml import H5_ERRORS, open_h5
from poison_tf.errors import UserInputError
from poison_tf.io.safe_read import parse_json
from poison_tf.models.deepid_badnet import INPUT_SHAPE, WEIGHTED_LAYERS, build_deepid_badnet

UNSAFE_FLAG = "--unsafe_deserialization"
MODEL_CLASSES = ("Functional", "Model", "Sequential")
# Config keys under which a wrapper layer nests another layer.
NESTED_LAYER_KEYS = ("layer", "forward_layer", "backward_layer", "cell")
# What Keras may raise on a file it cannot deserialise; anything else stays a bug with a traceback.
LOAD_ERRORS = (ValueError, TypeError, KeyError, OSError, AttributeError, NotImplementedError)


def _attr_text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _layer_entries(entry: dict) -> Iterator[dict]:
    """Every layer config in a model config, nested models and wrapped layers included."""
    yield entry
    config = entry.get("config")
    if isinstance(config, list):  # Keras <= 2.2 Sequential: the config is the list of layers
        children = config
    elif isinstance(config, dict):
        children = list(config.get("layers") or [])
        children += [config[key] for key in NESTED_LAYER_KEYS if isinstance(config.get(key), dict)]
    else:
        children = []
    for child in children:
        if isinstance(child, dict) and "class_name" in child:
            yield from _layer_entries(child)


def _is_known_layer(class_name: str, registered_name: str | None) -> bool:
    if registered_name and registered_name != class_name:  # "package>Name": custom code
        return keras.saving.get_registered_object(registered_name) is not None
    return class_name in MODEL_CLASSES or isinstance(getattr(keras.layers, class_name, None), type)


def check_model_config(path: str, model_config: str, unsafe: bool = False) -> None:
    """Refuses Lambda layers and unknown (custom) layer classes unless `unsafe`."""
    config = parse_json(model_config, f"model file {path}: its model_config")
    if not isinstance(config, dict):
        raise UserInputError(f"model file {path}: its model_config is not a model description")
    lambdas, unknown = [], []
    for entry in _layer_entries(config):
        class_name = str(entry.get("class_name"))
        name = (
            (entry.get("config") or {}).get("name")
            if isinstance(entry.get("config"), dict)
            else None
        )
        label = f"{name} ({class_name})" if name else class_name
        if class_name == "Lambda":
            lambdas.append(label)
        elif not _is_known_layer(class_name, entry.get("registered_name")):
            unknown.append(label)
    if unsafe:
        return
    if lambdas:
        raise UserInputError(
            f"model file {path}: refusing Lambda layer(s) {', '.join(lambdas)}: loading them runs "
            f"Python code stored in the file; pass {UNSAFE_FLAG} only if you trust it"
        )
    if unknown:
        raise UserInputError(
            f"model file {path}: refusing unknown custom layer(s) {', '.join(unknown)}: they need "
            f"code that is not part of Keras; pass {UNSAFE_FLAG} only if you trust the file and "
            "have registered those classes"
        )


@contextlib.contextmanager
def _with_suffix(path: str, suffix: str) -> Iterator[str]:
    """`path` itself if it ends with `suffix`, else a temporary link that does (Keras picks the
    format from the file name)."""
    if path.endswith(suffix):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="poison_tf_model_") as tmp:
        link = os.path.join(tmp, "model" + suffix)
        os.symlink(os.path.abspath(path), link)
        yield link


def _load_full_model(path: str, suffix: str, unsafe: bool) -> keras.Model:
    try:
        with _with_suffix(path, suffix) as named:
            return keras.models.load_model(named, compile=False, safe_mode=not unsafe)
    except LOAD_ERRORS as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        fallback = _rebuild_from_model_weights(path)
        if fallback is None:
            raise UserInputError(f"model file {path}: Keras cannot load it: {message}") from None
        logging.warning(
            "%s: Keras 3 cannot rebuild the stored model (%s); using the DeepID "
            "BadNet architecture with the file's weights instead",
            path,
            message,
        )
        return fallback


def _rebuild_from_model_weights(path: str) -> keras.Model | None:
    """The DeepID BadNet with a full model file's weights, when its config is unloadable (the
    notes' recipe for old configs) and its weights are those of the BadNet; else None."""
    if _is_keras_archive(path):
        return None
    with open_h5(path, "model file") as handle:
        group = handle.get("model_weights")
        if not isinstance(group, h5py.Group) or "layer_names" not in group.attrs:
            return None
        names = {_attr_text(name) for name in group.attrs["layer_names"]}
        if not set(WEIGHTED_LAYERS) <= names:
            return None
        return _load_keras2_weights(path, group)


def _is_keras_archive(path: str) -> bool:
    return os.path.isfile(path) and zipfile.is_zipfile(path)


def _name_list(path: str, value: object, what: str) -> list[str]:
    """A Keras-2 name attribute (`layer_names`, `weight_names`) as strings, or a message."""
    array = np.asarray(value)
    if array.size == 0:  # Keras 2 stores "no weights" as an empty float array
        return []
    if array.ndim != 1 or not (array.dtype.kind in "SU" or array.dtype == object):
        raise UserInputError(
            f"model file {path}: {what} must be a list of names, got {array.dtype} of shape "
            f"{array.shape}"
        )
    if not all(isinstance(item, bytes | str) for item in array.tolist()):
        raise UserInputError(f"model file {path}: {what} holds something other than names")
    return [_attr_text(item) for item in array.tolist()]


def _weight_array(path: str, group: h5py.Group, name: str) -> np.ndarray:
    """One stored weight: a real-valued, finite dataset, else a message naming it."""
    dataset = group.get(name)
    where = f"model file {path}: weight {group.name}/{name}"
    if not isinstance(dataset, h5py.Dataset):
        raise UserInputError(f"{where} is missing or not a dataset")
    if dataset.shape is None or dataset.dtype.kind not in "fiu":
        raise UserInputError(
            f"{where} has dtype {dataset.dtype} and shape {dataset.shape}; expected numbers"
        )
    value = np.asarray(dataset[()])
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise UserInputError(f"{where} holds NaN or infinite values")
    return value


def _keras2_weights(path: str, handle: h5py.Group) -> dict[str, list[np.ndarray]]:
    """{layer name: [weight arrays in stored order]} for the layers of a Keras-2 weights file."""
    weights = {}
    try:
        for name in _name_list(path, handle.attrs["layer_names"], "layer_names"):
            group = handle[name]
            if not isinstance(group, h5py.Group):
                raise UserInputError(f"model file {path}: layer {name!r} is not a group")
            names = _name_list(path, group.attrs.get("weight_names", []), f"{name}/weight_names")
            if names:
                weights[name] = [_weight_array(path, group, n) for n in names]
    except H5_ERRORS as error:
        raise UserInputError(
            f"model file {path}: damaged weights file (truncated?): {error}"
        ) from None
    return weights


def _load_keras2_weights(path: str, handle: h5py.Group) -> keras.Model:
    stored = _keras2_weights(path, handle)
    missing = [name for name in WEIGHTED_LAYERS if name not in stored]
    if missing:
        raise UserInputError(
            f"model file {path}: weights-only file without the DeepID BadNet layer(s) "
            f"{', '.join(missing)} (it has: {', '.join(stored) or 'no weights'}); only HackML "
            "BadNet weights can be loaded without a model_config"
        )
    output_bias = stored["output"][-1]
    if output_bias.ndim != 1 or output_bias.shape[0] < 2:
        raise UserInputError(f"model file {path}: output layer bias has shape {output_bias.shape}")
    model = build_deepid_badnet(num_classes=int(output_bias.shape[0]), input_shape=INPUT_SHAPE)
    for name in WEIGHTED_LAYERS:
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(w.shape) for w in stored[name]]
        if expected != found:
            raise UserInputError(
                f"model file {path}: layer {name} has weight shapes {found}, but the DeepID BadNet "
                f"for {INPUT_SHAPE[0]}x{INPUT_SHAPE[1]}x{INPUT_SHAPE[2]} inputs needs {expected}"
            )
        layer.set_weights(stored[name])
    return model


def check_finite_weights(model: keras.Model, path: str) -> keras.Model:
    """Refuses a loaded model with NaN or infinite weights: it would score silent nonsense."""
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise UserInputError(
                f"model file {path}: weight {variable.path} holds NaN or infinite values"
            )
    return model


def _keras3_output_units(handle: h5py.Group) -> int | None:
    for group in handle["layers"].values():
        if isinstance(group, h5py.Group) and "vars" in group:
            if _attr_text(group["vars"].attrs.get("name", "")) == "output" and "1" in group["vars"]:
                bias = group["vars"]["1"]
                if not isinstance(bias, h5py.Dataset) or not bias.shape:
                    return None  # malformed: reported as "without an 'output' layer"
                return int(bias.shape[0])
    return None


def _load_keras3_weights(path: str) -> keras.Model:
    with open_h5(path, "model file") as handle:
        units = _keras3_output_units(handle)
    if units is None:
        raise UserInputError(
            f"model file {path}: Keras-3 weights file without an 'output' layer; "
            "only DeepID BadNet weights can be loaded without a model"
        )
    model = build_deepid_badnet(num_classes=units)
    try:
        with _with_suffix(path, ".weights.h5") as named:
            model.load_weights(named)
    except LOAD_ERRORS as error:
        raise UserInputError(
            f"model file {path}: these weights do not fit the DeepID BadNet: "
            f"{str(error).strip().splitlines()[0]}"
        ) from None
    return model


def load_hackml_model(path: str, unsafe: bool = False) -> keras.Model:
    """Loads a HackML model file (full model or weights-only) as an uncompiled Keras model.

    Call inside `strategy.scope()` to place the variables for that strategy. A file whose
    metadata is damaged, or whose weights are NaN / infinite, is a `UserInputError`.
    """
    try:
        model = _load_any(path, unsafe)
    except H5_ERRORS as error:  # damaged HDF5 metadata met while looking inside
        raise UserInputError(
            f"model file {path}: damaged or malformed file ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'unreadable'})"
        ) from None
    return check_finite_weights(model, path)


def _load_any(path: str, unsafe: bool) -> keras.Model:
    if _is_keras_archive(path):  # a Keras 3 `.keras` archive
        try:
            with zipfile.ZipFile(path) as archive:
                config = archive.read("config.json").decode("utf-8")
        except (KeyError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
            raise UserInputError(
                f"model file {path}: not a readable .keras archive: {error}"
            ) from None
        check_model_config(path, config, unsafe)
        return _load_full_model(path, ".keras", unsafe)
    with open_h5(path, "model file") as handle:
        if "model_config" in handle.attrs:
            check_model_config(path, _attr_text(handle.attrs["model_config"]), unsafe)
            kind = "full"
        elif "layer_names" in handle.attrs:
            return _load_keras2_weights(path, handle)
        elif "layers" in handle and "vars" in handle:
            kind = "keras3_weights"
        else:
            raise UserInputError(
                f"model file {path}: neither a Keras model (no model_config attribute) nor a "
                "weights file (no layer_names attribute)"
            )
    if kind == "keras3_weights":
        return _load_keras3_weights(path)
    return _load_full_model(path, ".hdf5" if path.endswith(".hdf5") else ".h5", unsafe)


def classifier_signature(model: keras.Model, path: str) -> tuple[tuple[int, ...], int]:
    """(input shape (H, W, C) with None for free sizes, number of classes) of an image classifier."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserInputError(
            f"model file {path}: expected one image input and one class output, found "
            f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)"
        )
    input_shape = tuple(model.inputs[0].shape)
    output_shape = tuple(model.outputs[0].shape)
    if len(input_shape) != 4:
        raise UserInputError(
            f"model file {path}: input shape {input_shape} is not a batch of images"
        )
    if len(output_shape) != 2 or output_shape[1] is None or output_shape[1] < 2:
        raise UserInputError(
            f"model file {path}: output shape {output_shape} is not a vector of class scores "
            "(batch, num_classes)"
        )
    return input_shape[1:], int(output_shape[1])
