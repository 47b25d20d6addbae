"""Copying torch tensors into Keras layers: the layout conversions, in one place.

torch stores a conv kernel as [out, in, kh, kw], a depthwise kernel as [channels, 1, kh, kw] and
a linear weight as [out, in]; Keras wants [kh, kw, in, out], [kh, kw, channels, 1] and [in, out].
BatchNorm maps weight/bias/running_mean/running_var to gamma/beta/moving_mean/moving_variance
(the epsilon is the builder's business: torch's default is 1e-5, Keras' 1e-3).
A `name_map` {Keras layer name: torch module prefix} says which module feeds which layer, so the
same code serves torchvision's names and EfficientNet-PyTorch's.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")


def _torch_shapes(layer: keras.layers.Layer) -> dict[str, tuple]:
    """{suffix: torch shape} of the tensors one Keras layer takes."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, channels, mult = layer.kernel.shape
        shapes = {"weight": (channels * mult, 1, kh, kw)}
    elif isinstance(layer, keras.layers.Conv2D):
        kh, kw, cin, cout = layer.kernel.shape
        shapes = {"weight": (cout, cin, kh, kw)}
    elif isinstance(layer, keras.layers.Dense):
        cin, cout = layer.kernel.shape
        shapes = {"weight": (cout, cin)}
    elif isinstance(layer, keras.layers.BatchNormalization):
        return {suffix: (layer.gamma.shape[0],) for suffix in BN_SUFFIXES}
    else:
        raise TypeError(f"no torch counterpart for {type(layer).__name__} {layer.name}")
    if getattr(layer, "use_bias", False):
        shapes["bias"] = (shapes["weight"][0],)
    return shapes


def expected_tensors(model: keras.Model, name_map: Mapping[str, str]) -> dict[str, tuple]:
    """{torch tensor name: torch shape} that `model`'s mapped layers need, in layer order."""
    expected = {}
    for keras_name, prefix in name_map.items():
        for suffix, shape in _torch_shapes(model.get_layer(keras_name)).items():
            expected[f"{prefix}.{suffix}"] = tuple(int(d) for d in shape)
    return expected


def _keras_values(layer: keras.layers.Layer, tensors: Mapping[str, np.ndarray], prefix: str):
    def get(suffix: str) -> np.ndarray:
        return np.asarray(tensors[f"{prefix}.{suffix}"], np.float32)

    if isinstance(layer, keras.layers.BatchNormalization):
        return [get(suffix) for suffix in BN_SUFFIXES]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = get("weight").transpose(2, 3, 0, 1)  # [C, 1, kh, kw] -> [kh, kw, C, 1]
    elif isinstance(layer, keras.layers.Conv2D):
        kernel = get("weight").transpose(2, 3, 1, 0)
    else:
        kernel = get("weight").T
    return [kernel, get("bias")] if getattr(layer, "use_bias", False) else [kernel]


def assign_tensors(
    model: keras.Model, name_map: Mapping[str, str], tensors: Mapping[str, np.ndarray]
) -> None:
    """Sets every mapped layer's weights from `tensors` (already checked by `check_tensors`)."""
    for keras_name, prefix in name_map.items():
        layer = model.get_layer(keras_name)
        layer.set_weights(_keras_values(layer, tensors, prefix))
