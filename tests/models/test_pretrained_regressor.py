"""`--backbone_weights` for the head-pose ResNet18: torchvision weights (.pth or imported .keras)
land in the backbone (same features as torch), the final layer is a fresh 3-output head."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "io"))  # the torch reference nets

from torch_resnet import ResNet, randomise_batchnorm  # noqa: E402

from poison_tf.errors import UserInputError  # noqa: E402
from poison_tf.io.imported_model import save_imported_model  # noqa: E402
from poison_tf.io.resnet_import import import_torchvision_resnet  # noqa: E402
from poison_tf.models.pretrained_regressor import build_pretrained_resnet18_regressor  # noqa: E402

SIZE = 64


@pytest.fixture(scope="module")
def torch_resnet18(tmp_path_factory):
    torch.manual_seed(3)
    net = randomise_batchnorm(ResNet(18, num_classes=1000), seed=3)
    path = tmp_path_factory.mktemp("r18") / "resnet18.pth"
    torch.save(net.state_dict(), path)
    return net, str(path)


def _torch_features(net, images: np.ndarray) -> np.ndarray:
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (torch.from_numpy(images).permute(0, 3, 1, 2) - mean) / std
    with torch.no_grad():
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        for stage in range(1, 5):
            x = getattr(net, f"layer{stage}")(x)
        return torch.flatten(net.avgpool(x), 1).numpy()


def _keras_features(model, images: np.ndarray) -> np.ndarray:
    import keras

    features = keras.Model(model.input, model.get_layer("avgpool").output)
    return np.asarray(features(images, training=False))


@pytest.mark.parametrize("kind", ["pth", "keras"])
def test_backbone_weights_land(tmp_path, torch_resnet18, kind):
    net, pth = torch_resnet18
    weights = pth
    if kind == "keras":
        model, metadata = import_torchvision_resnet(pth, depth=18, num_classes=None)
        weights, _ = save_imported_model(model, metadata, str(tmp_path / "r18.keras"))
    regressor = build_pretrained_resnet18_regressor(SIZE, weights)
    assert regressor.output_shape == (None, 3)
    images = np.random.default_rng(0).random((2, SIZE, SIZE, 3), dtype=np.float32)
    expected = _torch_features(net, images)
    got = _keras_features(regressor, images)
    assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()
    # the final layer is replaced: a fresh Dense(3), not the file's 1000-class fc
    assert regressor.get_layer("pose").kernel.shape == (512, 3)


def test_wrong_backbone_file_is_refused(tmp_path):
    path = tmp_path / "r50.pth"
    torch.save(ResNet(50, num_classes=10).state_dict(), path)
    with pytest.raises(UserInputError, match="layer1.0.conv3.weight"):
        build_pretrained_resnet18_regressor(SIZE, str(path))
