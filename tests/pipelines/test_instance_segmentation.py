"""The instance-segmentation pipeline end to end (tiny sizes) and its bad-input contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import tensorflow as tf
from pipeline_cli import exits_2_with_one_error, rerun_is_fully_cached, run_cli

from poison_tf.metrics.seg_validation import COLUMNS

TINY = [
    "--pipeline=instance_segmentation",
    "--preset=demo",
    "--num_train=32",
    "--num_val=8",
    "--epochs=1",
    "--image_size=64",
    "--global_batch_size=8",
]


@pytest.mark.slow
def test_tiny_pipeline_writes_tables_predictions_and_board(tmp_path):
    out = tmp_path / "run"
    # per-epoch mAP is what puts mAP and prediction images on the board (off in the demo preset)
    argv = [*TINY, "--epoch_map", f"--output_dir={out}"]
    assert run_cli(argv) == 0
    report = (out / "report.md").read_text()
    assert "| Class" in report and "Box(P" in report and "Mask(P" in report
    table = pd.read_csv(out / "table_model.csv")
    assert list(table.columns) == list(COLUMNS)
    assert table.iloc[0]["Class"] == "all" and table.iloc[0]["Images"] == 8
    assert table.iloc[0]["Instances"] == table.iloc[1:]["Instances"].sum()
    assert (out / "samples.png").stat().st_size > 1000
    tags = {
        value.tag
        for path in (out / "tensorboard" / "model").rglob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    }
    assert {"predictions", "box_mAP50-95"} <= {tag.removeprefix("val_") for tag in tags}
    evaluations = list((out / ".pipeline").glob("SegEvaluator/*/metrics/coco_results.json"))
    assert evaluations and isinstance(json.loads(evaluations[0].read_text()), list)
    assert rerun_is_fully_cached(argv, out)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--image_size=100", "multiple of 32"),
        ("--model_size=huge", "--model_size"),
        ("--source=yolo:/nonexistent/data.yaml", "data.yaml"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, capfd, flag, message):
    out = tmp_path / "run"
    assert exits_2_with_one_error([*TINY, flag, f"--output_dir={out}"], capfd, message)
    assert not (out / "report.md").exists()
