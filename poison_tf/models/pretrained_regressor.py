"""Head-pose regressor on a pretrained torchvision-layout ResNet18: the backbone's weights from a
torchvision `.pth` state_dict or from an imported `.keras` ResNet18, the final layer replaced.

The keras-cv ResNet18 the project trains from scratch pads strided convs differently from
torchvision, so pretrained torchvision weights would not compute the features they were trained
for there; this regressor uses the torchvision-layout ResNet18 (`torchvision_resnet`) instead,
ImageNet normalisation inside, and puts a fresh `Dense(3)` + fixed angle scale where torchvision's
`fc` was (the file's `fc`, if any, is ignored).
"""

from __future__ import annotations

import keras

from poison_tf.errors import UserInputError
from poison_tf.io.torch_state_dict import check_tensors, load_state_dict
from poison_tf.io.torch_to_keras import assign_tensors, expected_tensors
from poison_tf.models.torchvision_resnet import build_torchvision_resnet, torch_name_map


def _backbone_from_pth(backbone: keras.Model, path: str) -> None:
    tensors = load_state_dict(path)
    tensors = {k: v for k, v in tensors.items() if not k.startswith("fc.")}
    name_map = torch_name_map(backbone)
    check_tensors(
        path, "torchvision:resnet18 backbone", expected_tensors(backbone, name_map), tensors
    )
    assign_tensors(backbone, name_map, tensors)


def _backbone_from_keras(backbone: keras.Model, path: str) -> None:
    from poison_tf.io.model_loading import load_hackml_model

    source = load_hackml_model(path)
    names = {layer.name for layer in source.layers}
    for layer in backbone.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            raise UserInputError(
                f"--backbone_weights={path}: has no layer {layer.name!r}; pass a ResNet18 "
                "imported with poison-tf-import --source=torchvision:resnet18"
            )
        weights = source.get_layer(layer.name).get_weights()
        shapes = [tuple(w.shape) for w in weights]
        wanted = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != wanted:
            raise UserInputError(
                f"--backbone_weights={path}: layer {layer.name} has shapes {shapes}, needs {wanted}"
            )
        layer.set_weights(weights)


def build_pretrained_resnet18_regressor(
    input_size: int, backbone_weights: str, outputs: int = 3, angle_scale: float = 90.0
) -> keras.Model:
    """ResNet18 (torchvision layout, weights from `backbone_weights`) + Dense(`outputs`) in degrees.

    Args:
        input_size: square input side (RGB in [0, 1]).
        backbone_weights: a torchvision ResNet18 `.pth` state_dict or an imported `.keras`.
        outputs: regression outputs (yaw, pitch, roll).
        angle_scale: the fixed factor from the Dense layer's unit scale to degrees.

    Returns:
        The regressor; its backbone layers keep torchvision's names (`layer4.1.out` for Grad-CAM).
    """
    backbone = build_torchvision_resnet(18, None, (input_size, input_size, 3))
    if backbone_weights.endswith((".keras", ".h5")):
        _backbone_from_keras(backbone, backbone_weights)
    else:
        _backbone_from_pth(backbone, backbone_weights)
    unit = keras.layers.Dense(outputs, name="pose", dtype="float32")(backbone.output)
    angles = keras.layers.Rescaling(angle_scale, name="degrees", dtype="float32")(unit)
    return keras.Model(backbone.input, angles, name="resnet18_regressor")
