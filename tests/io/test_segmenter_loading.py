"""`poison-tf-seg-val --weights` given a classifier says it is not a segmentation model."""

from __future__ import annotations

import pytest

from poison_tf.errors import UserInputError
from poison_tf.io.segmenter_loading import load_segmenter
from poison_tf.models.deepid_badnet import build_deepid_badnet


def test_a_classifier_is_not_a_segmentation_model(tmp_path):
    path = tmp_path / "classifier.keras"
    build_deepid_badnet(num_classes=3).save(path)
    with pytest.raises(UserInputError, match="this is not a segmentation model"):
        load_segmenter(str(path))


def test_a_directory_is_not_a_model_file(tmp_path):
    with pytest.raises(UserInputError, match="is a directory"):
        load_segmenter(str(tmp_path))
