"""`YoloSegmentationTask(init_weights=...)` builds its model from a `.keras` YOLOv8-seg: the file's
size wins over `size`, another class count leaves only what changed shape (the class outputs)."""

from __future__ import annotations

import numpy as np
import pytest
from seg_fixtures import street_examples

from poison_tf.errors import UserInputError
from poison_tf.models.yolo_seg_transfer import all_layers
from poison_tf.models.yolo_v8_seg import YoloV8Seg
from poison_tf.tasks.yolo_segmentation import YoloSegmentationTask

SIZE = 64


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory) -> str:
    return street_examples(tmp_path_factory.mktemp("streets"), SIZE, num_train=4, num_val=2)


def test_build_model_starts_from_the_keras_file(examples_dir, tmp_path):
    source = YoloV8Seg(num_classes=3, image_size=96, size="n")  # 3 classes, not the data's 7
    rng = np.random.default_rng(0)
    source.set_weights(
        [rng.normal(0, 0.1, w.shape).astype(np.float32) for w in source.get_weights()]
    )
    path = str(tmp_path / "start.keras")
    source.save(path)
    task = YoloSegmentationTask(examples_dir, size="tiny", init_weights=path)
    model = task.build_model()
    assert (model.size, task.size, model.num_classes, model.image_size) == ("n", "n", 7, SIZE)
    theirs = all_layers(source)
    for name, layer in all_layers(model).items():
        same = [np.array_equal(a, b) for a, b in zip(layer.weights, theirs[name].weights)]
        fresh = name.startswith("cls") and name.endswith("_out")  # 3 -> 7 outputs
        assert all(same) != fresh, name  # the hidden class convs keep their width (64) and weights


def test_a_file_that_is_not_a_yolo_seg_is_refused(examples_dir, tmp_path):
    path = str(tmp_path / "model.h5")
    open(path, "w").close()
    with pytest.raises(UserInputError, match="expected an Ultralytics .pt or a YOLOv8-seg .keras"):
        YoloSegmentationTask(examples_dir, init_weights=path).build_model()
