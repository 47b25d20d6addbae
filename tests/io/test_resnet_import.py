"""torchvision-layout ResNet state_dicts → Keras: same logits as torch, metadata kept, load-safe."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch_resnet import ResNet, randomise_batchnorm  # noqa: E402

import poison_tf  # noqa: E402,F401
from poison_tf.io.imported_model import read_import_metadata, save_imported_model  # noqa: E402
from poison_tf.io.resnet_import import import_torchvision_resnet  # noqa: E402

SIZE = 64  # the smallest side where every ResNet stage still has a 2×2 map


def torch_resnet_file(tmp_path, depth: int, num_classes: int = 10, seed: int = 0) -> tuple:
    torch.manual_seed(seed)
    net = randomise_batchnorm(ResNet(depth, num_classes), seed)
    path = tmp_path / f"resnet{depth}.pth"
    torch.save(net.state_dict(), path)
    return net, str(path)


def logits_both(net, model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (torch.from_numpy(images).permute(0, 3, 1, 2) - mean) / std
        expected = net(x).numpy()
    return expected, np.asarray(model(images, training=False))


@pytest.mark.parametrize("depth", [18, 50])
def test_keras_logits_match_torch(tmp_path, depth):
    net, path = torch_resnet_file(tmp_path, depth)
    model, metadata = import_torchvision_resnet(path, depth=depth, num_classes=10)
    images = np.random.default_rng(depth).random((3, SIZE, SIZE, 3), dtype=np.float32)
    expected, got = logits_both(net, model, images)
    scale = np.abs(expected).max()
    assert scale > 1e-2  # the check below would be empty on vanishing logits
    assert np.abs(got - expected).max() <= 1e-3 * scale
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert metadata["source"] == f"torchvision:resnet{depth}" and metadata["num_classes"] == 10


def test_saved_model_loads_safely_with_metadata(tmp_path):
    net, path = torch_resnet_file(tmp_path, 18, num_classes=5)
    model, metadata = import_torchvision_resnet(path, depth=18, num_classes=None)
    out, json_path = save_imported_model(model, metadata, str(tmp_path / "r18.keras"))
    loaded = keras.models.load_model(out)  # safe mode, no custom objects
    images = np.random.default_rng(1).random((2, SIZE, SIZE, 3), dtype=np.float32)
    expected, got = logits_both(net, loaded, images)
    assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()
    stored = read_import_metadata(out)
    assert stored["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    assert stored["num_classes"] == 5 and stored["weights_sha256"]
    assert json.loads(open(json_path).read()) == stored
    loaded.get_layer(stored["gradcam_layer"])  # the Grad-CAM layer named in the metadata exists
