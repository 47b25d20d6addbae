"""The YOLOv8-seg Task end to end on a tiny synthetic street set: train, validate (mAP), export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from seg_fixtures import street_examples

from poison_tf.data import seg_examples
from poison_tf.models.yolo_seg_loss import GAINS
from poison_tf.models.yolo_seg_predict import export_predictions
from poison_tf.tasks.yolo_segmentation import YoloSegmentationTask, summary_names
from poison_tf.train.loop import TrainerConfig, fit
from poison_tf.train.schedules import WarmupDecay

SIZE = 64


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory) -> str:
    return street_examples(tmp_path_factory.mktemp("streets"), SIZE, num_train=8, num_val=3, seed=3)


def test_optimizer_follows_ultralytics_defaults(examples_dir):
    task = YoloSegmentationTask(examples_dir, size="tiny", global_batch_size=4, epochs=10)
    assert task.learning_rate == round(0.002 * 5 / (4 + task.num_classes), 6)
    schedule = task.learning_rate_schedule()
    assert task.build_optimizer().weight_decay == 5e-4
    assert isinstance(schedule, WarmupDecay)
    assert schedule.total_steps == 20 and schedule.warmup_steps == 10  # max(6, 100) capped at half
    assert float(schedule(0)) == 0.0 and float(schedule(20)) == pytest.approx(
        0.01 * task.learning_rate
    )


def test_summary_names_are_tensorboard_friendly():
    names = summary_names(
        {"metrics/mAP50-95(B)": 0.5, "metrics/precision(M)": 0.25, "fitness": 1.0}
    )
    assert names == {"box_mAP50-95": 0.5, "mask_P": 0.25, "fitness": 1.0}


@pytest.mark.slow  # tracing the train step takes 20-50 s on 2 shared cores
def test_task_trains_validates_with_ema_and_exports(examples_dir, tmp_path):
    task = YoloSegmentationTask(
        examples_dir, size="tiny", global_batch_size=4, epochs=1, learning_rate=1e-2
    )
    model = fit(task, TrainerConfig(model_dir=str(tmp_path / "model"), epochs=1, progress=False))
    (logs,) = json.loads((tmp_path / "model" / "history.json").read_text())
    terms = {name: logs[f"{name}_loss"] for name in ("box", "seg", "cls", "dfl")}
    assert all(math.isfinite(v) and v >= 0 for v in terms.values())
    assert logs["loss"] == pytest.approx(sum(GAINS[k] * v for k, v in terms.items()), rel=1e-4)
    for key in ("val_box_mAP50", "val_box_mAP50-95", "val_mask_mAP50-95", "val_fitness"):
        assert 0.0 <= logs[key] <= 2.0
    table = task.last_validation.table()
    assert table.iloc[0]["Class"] == "all" and table.iloc[0]["Images"] == 3

    stems = [row["stem"] for row in seg_examples.read_split_index(examples_dir, "val")]
    dataset = task.build_inputs("val")
    results = export_predictions(
        model,
        dataset,
        stems,
        task.names,
        coco_json=str(tmp_path / "coco.json"),
        yolo_dir=str(tmp_path / "txt"),
        keep_masks=True,
    )
    assert [r.stem for r in results] == stems
    entries = json.loads((tmp_path / "coco.json").read_text())
    assert len(entries) == sum(len(r.scores) for r in results) > 0  # conf 0.001 keeps many
    assert {e["image_id"] for e in entries} <= {int(s) for s in stems}
    assert all(0 <= e["category_id"] < task.num_classes for e in entries)
    for r in results:
        assert r.masks.shape[1:] == (r.height, r.width)
        assert np.all(r.boxes[:, 2:] <= [r.width, r.height]) and np.all(r.boxes >= 0)
    assert sorted(p.name for p in (tmp_path / "txt").iterdir()) == sorted(f"{s}.txt" for s in stems)
