"""Grad-CAM (Selvaraju et al. 2017) for any Keras 3 functional model: classifiers and regressors.

Grad-CAM explains one scalar y of the model's output through a convolutional feature map A
(by default the last one, the "last convolutional block"): the channel weights are the spatial
means of dy/dA, and the map is ReLU(sum_c w_c A_c), normalised per image to [0, 1]. For a
classifier y is a class logit; for a regressor it is the chosen output itself (e.g. the
predicted yaw), so the map shows where evidence that *raises* that output lies. `target_fn`
picks y from the model outputs, which keeps one function for both kinds of study.

The feature map often lives inside a nested model (keras-cv backbones are functional models
used as one layer), where `layer.output` refers to the backbone's own graph and not to the
outer one. So the outer graph is re-traced with the same layer objects (shared weights,
`keras.models.clone_model` with `call_function`), capturing the feature map on the way; a
nested model is split the same way when the feature map is one of its inner layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf


def _output_rank(layer: keras.layers.Layer) -> int | None:
    """Rank of the layer's (single) output, or None when it has no single output tensor."""
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    shape = getattr(output, "shape", None)
    return None if shape is None else len(shape)


def _find_last_4d(model: keras.Model) -> list[keras.layers.Layer] | None:
    """Path to the last layer with a 4-D output, descending into nested models when needed."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if _output_rank(layer) == 4:
            return [layer]
        if isinstance(layer, keras.Model):
            inner = _find_last_4d(layer)
            if inner:
                return [layer, *inner]
    return None


def _find_named(model: keras.Model, name: str) -> list[keras.layers.Layer] | None:
    """Path to the layer called `name`: this model's layers first, then nested models."""
    for layer in model.layers:
        if layer.name == name:
            return [layer]
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = _find_named(layer, name)
            if inner:
                return [layer, *inner]
    return None


def conv_layer_path(model: keras.Model, layer: str | None = None) -> list[keras.layers.Layer]:
    """The layers leading to the feature map: [outer layer, ..., the feature layer].

    `layer=None` chooses the last layer with a 4-D output (for a nested backbone whose output is
    a feature map, that is the backbone itself); a name is looked up in nested models as well.
    """
    path = _find_last_4d(model) if layer is None else _find_named(model, layer)
    if not path:
        what = "a layer with a 4-D output" if layer is None else f"a layer named {layer!r}"
        raise ValueError(f"Grad-CAM: model {model.name!r} has no {what}")
    if _output_rank(path[-1]) != 4:
        raise ValueError(f"Grad-CAM: layer {path[-1].name!r} does not output a 4-D feature map")
    return path


def _split(model: keras.Model, path: Sequence[keras.layers.Layer]) -> keras.Model:
    """model.inputs → [feature map of path[-1], model outputs], sharing the model's layers."""
    target, rest = path[0], list(path[1:])
    captured: list = []

    def call(layer, *args, **kwargs):
        if layer is not target:
            return layer(*args, **kwargs)
        if rest:
            features, outputs = _split(layer, rest)(*args, **kwargs)
        else:
            outputs = features = layer(*args, **kwargs)
        captured.append(features)
        return outputs

    if isinstance(
        model, keras.Sequential
    ):  # layers are called once there: their outputs are unique
        if rest:
            raise ValueError("Grad-CAM: cannot split a nested model inside a Sequential model")
        return keras.Model(model.input, [target.output, model.output])
    traced = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    if len(captured) != 1:
        raise ValueError(
            f"Grad-CAM: layer {target.name!r} is called {len(captured)} times in {model.name!r}; "
            "name a layer that is used once"
        )
    return keras.Model(traced.input, [captured[0], traced.output], name=f"{model.name}_gradcam")


def feature_model(model: keras.Model, layer: str | None = None) -> keras.Model:
    """image → [feature map, outputs] with the model's own weights (see `conv_layer_path`)."""
    return _split(model, conv_layer_path(model, layer))


def grad_cam(
    model: keras.Model,
    images: np.ndarray | tf.Tensor,
    target_fn: Callable[[tf.Tensor], tf.Tensor],
    layer: str | None = None,
    batch_size: int = 32,
    spatial_mean: bool = True,
) -> np.ndarray:
    """Grad-CAM maps [N, h, w] in [0, 1] (h, w: the feature map's size) for images [N, H, W, C].

    `target_fn(outputs) -> [N]` picks the explained scalar per image: `lambda y: y[:, 0]` for
    the predicted yaw of a pose regressor, `lambda y: y[:, k]` for class k's logit. The gradient
    of the batch sum equals each image's own gradient because the model runs in inference mode
    (no batch statistics couple the images). A map with no positive evidence stays all zero.

    `spatial_mean=False` gives the gradient × activation map (HiResCAM, Draelos & Carin 2020):
    each cell keeps its own gradient instead of the channel's spatial mean. A BadNets trigger
    lights a few cells of channels that are quiet elsewhere; the spatial mean dilutes their
    gradient by the map's size, and on the `cpu` head-pose model Grad-CAM then misses the trigger
    that the element-wise map finds (RESULTS.md, `experiments/gradcam_trigger_share.py`).
    """
    splitter = feature_model(model, layer)
    images = tf.convert_to_tensor(images)
    maps = []
    for start in range(0, int(images.shape[0]), batch_size):
        batch = images[start : start + batch_size]
        with tf.GradientTape() as tape:
            features, outputs = splitter(batch, training=False)
            target = tf.reshape(tf.cast(target_fn(outputs), tf.float32), [-1])
        if target.shape[0] != batch.shape[0]:
            raise ValueError(
                f"Grad-CAM: target_fn must return one value per image ([{batch.shape[0]}]), "
                f"got shape {target.shape}"
            )
        grads = tf.cast(tape.gradient(target, features), tf.float32)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True) if spatial_mean else grads
        cam = tf.nn.relu(tf.reduce_sum(weights * tf.cast(features, tf.float32), axis=-1))
        peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        maps.append(tf.math.divide_no_nan(cam, peak).numpy())
    return np.concatenate(maps, axis=0)


def resize_cam(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """A map [h, w] resized bilinearly to [height, width] (values stay in [0, 1])."""
    resized = tf.image.resize(np.asarray(cam, np.float32)[..., None], (height, width), "bilinear")
    return np.clip(resized.numpy()[..., 0], 0.0, 1.0)


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image [H, W, 3] (uint8, or float in [0, 1]) blended with the jet-coloured map, uint8 RGB."""
    from matplotlib import colormaps

    image = np.asarray(image)
    rgb = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    heat = colormaps["jet"](resize_cam(cam, *rgb.shape[:2]))[..., :3]
    blended = (1.0 - alpha) * np.clip(rgb[..., :3], 0.0, 1.0) + alpha * heat
    return np.round(blended * 255.0).astype(np.uint8)
