"""torchvision ResNet18/34/50 `state_dict` → a Keras classifier with torchvision's outputs.

The file is read with `weights_only=True` (no code runs), every tensor name and shape is checked
against the architecture `--source` names before anything is assigned, and the class count comes
from the file's `fc.weight` (checked against `--num_classes` when given).
"""

from __future__ import annotations

import os

import keras

from poison_tf.errors import UserInputError
from poison_tf.io.file_hash import file_sha256
from poison_tf.io.torch_state_dict import check_tensors, load_state_dict
from poison_tf.io.torch_to_keras import assign_tensors, expected_tensors
from poison_tf.models.torchvision_resnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESNET_LAYOUTS,
    build_torchvision_resnet,
    torch_name_map,
)

INPUT_SIZE = 224


def file_class_count(path: str, tensors: dict, head: str, num_classes: int | None) -> int:
    """Classes of the file's head `head` (a [classes, features] weight), checked against the flag."""
    weight = tensors.get(head)
    classes = int(weight.shape[0]) if weight is not None and weight.ndim == 2 else None
    if num_classes is not None and classes is not None and num_classes != classes:
        raise UserInputError(
            f"--num_classes={num_classes} does not match --weights={path}: its {head} "
            f"{tuple(weight.shape)} has {classes} classes"
        )
    if num_classes is not None and num_classes < 1:
        raise UserInputError(f"--num_classes={num_classes} must be positive")
    return classes or num_classes or 1000


def import_torchvision_resnet(
    weights_path: str, *, depth: int, num_classes: int | None = None, trust_pickle: bool = False
) -> tuple[keras.Model, dict]:
    """Builds the torchvision-layout ResNet and loads a torchvision `state_dict` into it.

    Args:
        weights_path: the `.pth` state_dict.
        depth: 18, 34 or 50.
        num_classes: expected class count (None: whatever the file's `fc` has).
        trust_pickle: unused: state_dicts never need full unpickling (kept for the common contract).

    Returns:
        (model taking NHWC RGB in [0, 1], metadata).
    """
    del trust_pickle
    if depth not in RESNET_LAYOUTS:
        raise UserInputError(f"torchvision:resnet{depth}: use one of {sorted(RESNET_LAYOUTS)}")
    source = f"torchvision:resnet{depth}"
    tensors = load_state_dict(weights_path)
    classes = file_class_count(weights_path, tensors, "fc.weight", num_classes)
    model = build_torchvision_resnet(depth, classes)
    name_map = torch_name_map(model)
    check_tensors(weights_path, source, expected_tensors(model, name_map), tensors)
    assign_tensors(model, name_map, tensors)
    blocks = RESNET_LAYOUTS[depth][1]
    metadata = {
        "source": source,
        "architecture": f"ResNet{depth} (torchvision layout, v1.5 bottleneck)",
        "weights_file": os.path.basename(weights_path),
        "weights_sha256": file_sha256(weights_path),
        "num_classes": classes,
        "input": "NHWC RGB float32 in [0, 1], any size >= 32 (trained at 224)",
        "input_size": INPUT_SIZE,
        "preprocessing": {
            "inside_model": True,
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "formula": "(x - mean) / std on [0, 1] RGB",
        },
        "gradcam_layer": f"layer4.{blocks[-1] - 1}.out",
        "outputs": "logits",
    }
    return model, metadata
