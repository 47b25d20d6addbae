"""Ultralytics YOLOv8-seg state_dict keys -> the layers of the project's `YoloV8Seg`.

The two models are the same network layer for layer (the keras-cv backbone's C2f split, SPPF and
stem, the PAN's concatenation order, the decoupled head, the Proto branch; see
`poison_tf.models.yolo_v8_seg`), so the import is a renaming plus layout changes:
- `Conv2d.weight` [out, in, kh, kw] -> Keras `kernel` [kh, kw, in, out];
- `ConvTranspose2d.weight` [in, out, kh, kw] -> Keras `Conv2DTranspose` `kernel` [kh, kw, out, in]
  (both frameworks define the transposed conv as the gradient of the conv, no kernel flip);
- `BatchNorm2d` weight / bias / running_mean / running_var -> gamma / beta / moving_mean /
  moving_variance (both use eps 1e-3 here: Ultralytics sets it, keras-cv's `apply_conv_bn` too).
The DFL layer's fixed `arange(16)` conv is checked, not copied (`dfl_expectation` computes it).
Every tensor must be used exactly once and every Keras weight set, else the error names the
missing and unexpected tensors with their shapes.
"""

from __future__ import annotations

import keras
import numpy as np

from poison_tf.errors import UserInputError, require
from poison_tf.models.yolo_box_ops import REG_MAX
from poison_tf.models.yolo_seg_transfer import all_layers

# Ultralytics module index -> (Keras name, kind) for yolov8-seg.yaml's backbone and neck.
_BODY = {
    0: ("stem_1", "conv"),
    1: ("stem_2", "conv"),
    2: ("stack1_c2f", "c2f"),
    3: ("stack2_downsample", "conv"),
    4: ("stack2_c2f", "c2f"),
    5: ("stack3_downsample", "conv"),
    6: ("stack3_c2f", "c2f"),
    7: ("stack4_downsample", "conv"),
    8: ("stack4_c2f", "c2f"),
    9: ("stack4_spp_fast", "sppf"),
    12: ("pan_p4p5", "c2f"),
    15: ("pan_p3p4p5", "c2f"),
    16: ("pan_down1", "conv"),
    18: ("pan_down1_c2f", "c2f"),
    19: ("pan_down2", "conv"),
    21: ("pan_down2_c2f", "c2f"),
}
HEAD_INDEX = 22
_BRANCHES = {"cv2": "box", "cv3": "cls", "cv4": "coef"}


def _conv_bn(torch_prefix: str, keras_name: str) -> list[tuple[str, str]]:
    """Ultralytics `Conv` (conv + bn + SiLU) = keras-cv `apply_conv_bn`: (torch prefix, layer)."""
    return [
        (f"{torch_prefix}.conv", f"{keras_name}_conv"),
        (f"{torch_prefix}.bn", f"{keras_name}_bn"),
    ]


def layer_pairs(depths: dict[int, int]) -> list[tuple[str, str]]:
    """(torch module prefix, Keras layer name) for every weighted layer.

    Args:
        depths: bottlenecks per C2f module index (read from the checkpoint's tensors).
    """
    pairs: list[tuple[str, str]] = []
    for index, (name, kind) in _BODY.items():
        prefix = f"model.{index}"
        if kind == "conv":
            pairs += _conv_bn(prefix, name)
        elif kind == "sppf":
            pairs += _conv_bn(f"{prefix}.cv1", f"{name}_pre")
            pairs += _conv_bn(f"{prefix}.cv2", f"{name}_output")
        else:  # C2f: cv1 -> _pre (then split), m.j -> _pre_j_{1,2}, cv2 -> _output
            pairs += _conv_bn(f"{prefix}.cv1", f"{name}_pre")
            for j in range(depths[index]):
                pairs += _conv_bn(f"{prefix}.m.{j}.cv1", f"{name}_pre_{j}_1")
                pairs += _conv_bn(f"{prefix}.m.{j}.cv2", f"{name}_pre_{j}_2")
            pairs += _conv_bn(f"{prefix}.cv2", f"{name}_output")
    head = f"model.{HEAD_INDEX}"
    for branch, name in _BRANCHES.items():
        for level in range(3):
            pairs += _conv_bn(f"{head}.{branch}.{level}.0", f"{name}{level}_1")
            pairs += _conv_bn(f"{head}.{branch}.{level}.1", f"{name}{level}_2")
            pairs.append((f"{head}.{branch}.{level}.2", f"{name}{level}_out"))
    pairs += _conv_bn(f"{head}.proto.cv1", "proto_1")
    pairs.append((f"{head}.proto.upsample", "proto_upsample"))
    pairs += _conv_bn(f"{head}.proto.cv2", "proto_2")
    pairs += _conv_bn(f"{head}.proto.cv3", "proto_3")
    return pairs


def c2f_depths(tensors: dict[str, np.ndarray]) -> dict[int, int]:
    """Bottlenecks per C2f module, counted from the `model.I.m.J.` keys."""
    depths = {}
    for index, (_, kind) in _BODY.items():
        if kind == "c2f":
            prefix = f"model.{index}.m."
            found = {key[len(prefix) :].split(".")[0] for key in tensors if key.startswith(prefix)}
            depths[index] = len(found)
    return depths


def _torch_values(layer: keras.layers.Layer, prefix: str, tensors: dict) -> dict[str, np.ndarray]:
    """The Keras weights of `layer` in Keras layout, taken from the torch tensors at `prefix`."""
    if isinstance(layer, keras.layers.BatchNormalization):
        names = {
            "gamma": "weight",
            "beta": "bias",
            "moving_mean": "running_mean",
            "moving_variance": "running_var",
        }
        return {k: tensors.get(f"{prefix}.{v}") for k, v in names.items()}
    weight = tensors.get(f"{prefix}.weight")
    values = {"kernel": None if weight is None else np.transpose(weight, (2, 3, 1, 0))}
    if getattr(layer, "use_bias", False):
        values["bias"] = tensors.get(f"{prefix}.bias")
    return values


def _check_dfl(tensors: dict, used: set[str], path: str) -> None:
    key = f"model.{HEAD_INDEX}.dfl.conv.weight"
    if key in tensors:
        expected = np.arange(REG_MAX, dtype=np.float32).reshape(1, REG_MAX, 1, 1)
        require(
            tensors[key].shape == expected.shape and np.allclose(tensors[key], expected),
            f"{path}: {key} is not the fixed DFL arange({REG_MAX}); not a YOLOv8 head",
        )
        used.add(key)


def load_tensors(model: keras.Model, tensors: dict[str, np.ndarray], path: str) -> int:
    """Copies the Ultralytics `tensors` into `model`; returns the number of numbers copied.

    Raises:
        UserInputError: tensors missing, left over, or of the wrong shape (named with shapes).
    """
    layers = all_layers(model)
    used: set[str] = set()
    missing, wrong, assignments = [], [], []
    for prefix, name in layer_pairs(c2f_depths(tensors)):
        layer = layers.pop(name)
        values = _torch_values(layer, prefix, tensors)
        for variable in layer.weights:
            short = variable.name
            value = values.get(short)
            torch_key = f"{prefix}.{_TORCH_SUFFIX.get(short, short)}"
            if value is None:
                missing.append(f"{torch_key} {tuple(variable.shape)}")
                continue
            used.add(torch_key)
            if tuple(value.shape) != tuple(variable.shape):
                wrong.append(f"{torch_key}: file {value.shape}, model {tuple(variable.shape)}")
                continue
            assignments.append((variable, value))
    _check_dfl(tensors, used, path)
    unexpected = [f"{k} {tensors[k].shape}" for k in tensors if k not in used]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mismatched", wrong)):
        if items:
            shown = ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
            problems.append(f"{len(items)} {label} tensors: {shown}")
    if problems:
        raise UserInputError(
            f"{path}: not a YOLOv8-seg checkpoint of this size: " + "; ".join(problems)
        )
    require(not layers, f"internal: Keras layers without torch weights: {sorted(layers)}")
    for variable, value in assignments:
        variable.assign(value.astype(np.float32))
    return int(sum(value.size for _, value in assignments))


_TORCH_SUFFIX = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
