"""Session fixtures for the HackML tests: one tiny 5-class DeepID BadNet in every file format."""

from __future__ import annotations

import keras
import pytest
from hackml_helpers import write_keras2_weights

from poison_tf.models.deepid_badnet import build_deepid_badnet


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model, {format: path}) for build_deepid_badnet(num_classes=5) saved four ways."""
    keras.utils.set_random_seed(7)
    model = build_deepid_badnet(num_classes=5)
    folder = tmp_path_factory.mktemp("tiny_model")
    paths = {
        "full_h5": str(folder / "tiny_bd_net.h5"),
        "keras2_weights": str(folder / "tiny_bd_weights.h5"),
        "keras3_weights": str(folder / "tiny.weights.h5"),
        "keras": str(folder / "tiny.keras"),
    }
    model.save(paths["full_h5"])
    write_keras2_weights(paths["keras2_weights"], model)
    model.save_weights(paths["keras3_weights"])
    model.save(paths["keras"])
    return model, paths
