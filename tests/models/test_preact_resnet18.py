"""PreAct-ResNet18 matches BackdoorBench's parameter count and round-trips through .keras files."""

from __future__ import annotations

import keras
import numpy as np

from poison_tf.models.preact_resnet18 import build_preact_resnet18


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_full_width_has_backdoorbenchs_parameter_count():
    # PyTorch PreActResNet18(num_classes=10) of BackdoorBench: 11,171,146 parameters
    # (BatchNorm running statistics are buffers there, non-trainable weights here).
    assert _trainable(build_preact_resnet18((32, 32, 3), 10)) == 11_171_146


def test_narrow_model_saves_loads_and_exposes_penultimate(tmp_path):
    model = build_preact_resnet18((16, 16, 3), 4, width=4)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert model.get_layer("penultimate").output.shape[-1] == 32
    assert np.allclose(model.predict(x, verbose=0).sum(-1), 1.0, atol=1e-5)
