"""Executor tests of the head-pose study's components and the shared poison planner."""

from __future__ import annotations

import json
import os

import pandas as pd

from poison_tf import types
from poison_tf.components.headpose.bad_nets_report import (
    BadNetsReport,
    cam_share_table,
    stop_rates,
)
from poison_tf.components.headpose.head_pose_evaluator import HeadPoseEvaluator
from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen
from poison_tf.components.headpose.head_pose_trainer import HeadPoseTrainer
from poison_tf.components.poison_planner import PoisonPlanner


def test_example_gen(artefacts):
    examples = artefacts.headpose_examples
    assert examples.properties["train"] == 32 and examples.properties["test"] == 8
    assert len(examples.properties["angle_std"]) == 3
    artefacts.user_error(HeadPoseExampleGen, None, "at least 16 pixels", image_size=8)


def test_poison_planner(artefacts):
    plan = artefacts.headpose_plan
    assert plan.properties["count"] == 8 and plan.properties["num_examples"] == 32
    assert len(types.PoisonPlan.load(plan).poisoned_ids) == 8
    artefacts.user_error(
        PoisonPlanner,
        {"examples": artefacts.headpose_examples},
        "rate_percent",
        trigger="checkerboard",
        rate_percent=150.0,
        label_rule=artefacts.HEADPOSE_RULE,
    )


def test_trainer(artefacts):
    model = artefacts.headpose_model
    assert os.path.isfile(types.HeadPoseModel.path(model))
    assert model.properties["input_size"] == 32
    assert len(types.HeadPoseModel.history(model)) == 1
    assert types.HeadPoseModel.load(model).output_shape == (None, 3)
    artefacts.user_error(  # a plan where the examples go
        HeadPoseTrainer, {"examples": artefacts.headpose_plan}, "expected 'Examples'", epochs=1
    )


def test_trainer_fine_tunes_from_an_init_model(artefacts):
    """The fine-tuning protocol: a 0-epoch run from `init_model` is the init model, weight for
    weight; a model of another width is one clear error."""
    import numpy as np

    inputs = {"examples": artefacts.headpose_examples, "init_model": artefacts.headpose_model}
    copy = artefacts.run(HeadPoseTrainer, inputs, width=0.25, epochs=0, global_batch_size=16)
    source = types.HeadPoseModel.load(artefacts.headpose_model).get_weights()
    copied = types.HeadPoseModel.load(copy["model"]).get_weights()
    assert len(source) == len(copied)
    assert all(np.array_equal(a, b) for a, b in zip(source, copied))
    tuned = artefacts.run(HeadPoseTrainer, inputs, width=0.25, epochs=1, global_batch_size=16)
    moved = types.HeadPoseModel.load(tuned["model"]).get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(source, moved))
    assert "val_loss" in types.HeadPoseModel.history(tuned["model"])[0]
    quiet = artefacts.run(  # the fine-tunes of the finetune protocol: no per-epoch validation
        HeadPoseTrainer, inputs, width=0.25, epochs=1, global_batch_size=16, validate=False
    )
    assert "val_loss" not in types.HeadPoseModel.history(quiet["model"])[0]
    same = types.HeadPoseModel.load(quiet["model"]).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(moved, same))  # validation trains nothing
    artefacts.user_error(HeadPoseTrainer, inputs, "does not match", width=0.5, epochs=1)


def test_evaluator(artefacts):
    metrics = types.HeadPoseMetrics.read(artefacts.headpose_metrics)
    assert set(metrics["clean"]) == {"yaw", "pitch", "roll", "mean"}
    assert metrics["clean"]["mean"] >= 0 and list(metrics["attacks"]) == ["checkerboard"]
    artefacts.user_error(  # a plan is not a head-pose model
        HeadPoseEvaluator,
        {"model": artefacts.headpose_plan, "examples": artefacts.headpose_examples},
        "expected 'HeadPoseModel'",
        attacks="[]",
    )


def test_report(artefacts):
    inputs = {
        "baseline_metrics": artefacts.headpose_metrics,
        "baseline_model": artefacts.headpose_model,
        "metrics": [artefacts.headpose_metrics],
        "plans": [artefacts.headpose_plan],
        "models": [artefacts.headpose_model],
    }
    report = artefacts.run(BadNetsReport, inputs, title="tiny")["report"]
    text = open(report.path(types.Report.FILE)).read()
    assert text.startswith("# tiny") and "checkerboard" in text
    artefacts.user_error(
        BadNetsReport, dict(inputs, plans=[artefacts.headpose_examples]), "expected 'PoisonPlan'"
    )
    json.dumps(report.properties)  # properties stay JSON
    assert "## Unpoisoned model: clean MAE per angle" in text and "## Seeds" not in text
    assert "## Where each trigger stops working" in text
    assert os.path.isfile(report.path("stop_rates.csv"))


def test_report_gives_mean_and_spread_over_seeds(artefacts):
    metrics = artefacts.headpose_metrics
    inputs = {
        "baseline_metrics": metrics,
        "baseline_model": artefacts.headpose_model,
        "metrics": [metrics],
        "plans": [artefacts.headpose_plan],
        "models": [artefacts.headpose_model],
        "seed_metrics": [metrics, metrics, metrics],
    }
    runs = [["baseline", 17], ["baseline", 18], ["checkerboard_25", 17]]
    report = artefacts.run(BadNetsReport, inputs, seed_runs=json.dumps(runs))["report"]
    text = open(report.path(types.Report.FILE)).read()
    clean = types.HeadPoseMetrics.read(metrics)["clean"]["mean"]
    assert "## Seeds: mean ± sample std over 2 seeds" in text
    assert f"| baseline | {clean:.2f} ± 0.00 |" in text  # two equal seeds: no spread
    assert f"| checkerboard_25 | {clean:.2f} |" in text  # one seed: no ± at all


def test_stop_rates_walk_the_rates_down_to_the_first_failure():
    frame = pd.DataFrame(
        [
            {"trigger": trigger, "rate_percent": rate, "attack_mean": attack}
            for trigger, attacks in {
                "checkerboard": [0.4, 0.9, 3.0, 12.0, 2.0],  # fails at 1 %, the 0.5 % is noise
                "point": [0.5, 0.6, 0.7, 0.8, 0.9],  # works at every rate tried
                "random": [11.0, 20.0, 30.0, 40.0, 50.0],  # works at none
            }.items()
            for rate, attack in zip([50.0, 10.0, 2.0, 1.0, 0.5], attacks)
        ]
        + [{"trigger": "point", "rate_percent": 0.0, "attack_mean": 45.0}]  # baseline row
    )
    stops = stop_rates(frame)
    assert stops.loc["Checkerboard"].tolist() == [2.0, 1.0]
    assert stops.loc["Point"].iloc[0] == 0.5 and pd.isna(stops.loc["Point"].iloc[1])
    assert pd.isna(stops.loc["Random"].iloc[0]) and stops.loc["Random"].iloc[1] == 50.0


def test_cam_share_table_lists_each_map_per_model(tmp_path):
    path = tmp_path / "gradcam.json"
    triggered = {"cam_share_in_trigger": None, "grad_x_act_share_in_trigger": 0.25}
    models = {"baseline": {"clean": {"cam_share_in_trigger": 0.01}, "triggered": triggered}}
    path.write_text(json.dumps({"trigger_area_share": 0.0156, "models": models}))
    text = cam_share_table(str(path))
    assert "covers 0.016 of the image" in text
    assert "| baseline | 0.010 | empty map | 0.250 |" in text
    path.write_text(json.dumps({"trigger_area_share": None, "models": models}))  # a blend
    assert cam_share_table(str(path)) == ""
