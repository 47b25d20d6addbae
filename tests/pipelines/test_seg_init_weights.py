"""`--init_weights`: the segmentation pipelines fine-tune from an imported Ultralytics checkpoint.

A random-weight Ultralytics YOLOv8n-seg with the synthetic streets' 7 classes is saved the way
Ultralytics saves it; a tiny `instance_segmentation` run starts from it with a learning rate of
1e-9, so every convolution of the trained model must still hold the checkpoint's numbers (a run
from scratch would hold He-uniform noise instead). BatchNorm statistics are left out: they move
with any training step whatever the learning rate.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pipeline_cli import exits_2_with_one_error, run_cli
from ultralytics_fixtures import random_seg_model, save_full_checkpoint

from poison_tf.data.synthetic_streets import CLASS_NAMES
from poison_tf.io.ultralytics_import import import_ultralytics
from poison_tf.models.yolo_seg_transfer import all_layers

TINY = [
    "--pipeline=instance_segmentation",
    "--preset=demo",
    "--num_train=16",
    "--num_val=8",
    "--epochs=1",
    "--image_size=64",
    "--global_batch_size=8",
    "--learning_rate=1e-9",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("init") / "yolov8n-seg.pt")
    return save_full_checkpoint(random_seg_model("n", len(CLASS_NAMES), seed=5), path, 64)


@pytest.mark.slow
def test_pipeline_fine_tunes_from_the_imported_checkpoint(tmp_path, checkpoint):
    out = tmp_path / "run"
    argv = [*TINY, f"--init_weights={checkpoint}", "--trust_pickle", f"--output_dir={out}"]
    assert run_cli(argv) == 0
    assert "fine-tuned from `yolov8n-seg.pt`" in (out / "report.md").read_text()
    [trained_path] = (out / ".pipeline").glob("SegTrainer/*/model/model.keras")
    trained = keras.models.load_model(trained_path, compile=False)
    imported, _ = import_ultralytics(checkpoint, num_classes=None, trust_pickle=True)
    assert trained.size == "n"  # the checkpoint's size, not the demo preset's "tiny"
    theirs = all_layers(imported)
    compared = 0
    for name, layer in all_layers(trained).items():
        if isinstance(layer, keras.layers.BatchNormalization):
            continue
        for ours, reference in zip(layer.weights, theirs[name].weights):
            np.testing.assert_allclose(np.asarray(ours), np.asarray(reference), atol=1e-5)
            compared += 1
    assert compared >= 80  # every convolution kernel and bias of the n model


def test_full_object_checkpoint_without_trust_pickle_exits_2(tmp_path, capfd, checkpoint):
    out = tmp_path / "run"
    argv = [*TINY, f"--init_weights={checkpoint}", f"--output_dir={out}"]
    assert exits_2_with_one_error(argv, capfd, "--trust_pickle")
    assert not (out / "report.md").exists()


def test_missing_init_weights_exits_2(tmp_path, capfd):
    argv = [*TINY, f"--init_weights={tmp_path / 'absent.pt'}", f"--output_dir={tmp_path / 'run'}"]
    assert exits_2_with_one_error(argv, capfd, "no such file")


def test_clean_image_backdoor_takes_init_weights_and_fingerprints_the_file(tmp_path):
    """Its trainers come from `instance_segmentation.trainer`, run end to end above."""
    from pipelines import clean_image_backdoor
    from poison_tf.io.file_hash import file_sha256
    from poison_tf.models.yolo_v8_seg import YoloV8Seg

    path = str(tmp_path / "start.keras")
    YoloV8Seg(num_classes=len(CLASS_NAMES), image_size=64, size="tiny").save(path)
    config = clean_image_backdoor.PRESETS["demo"]
    checked = clean_image_backdoor.validate(type(config)(**{**vars(config), "init_weights": path}))
    assert checked.init_weights == path and checked.init_weights_sha256 == file_sha256(path)
