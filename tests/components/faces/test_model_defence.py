"""Executor tests of ModelDefence: the benchmark's model defences on a tiny face classifier."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from poison_tf import types
from poison_tf.components.faces.face_classifier_trainer import FaceClassifierTrainer
from poison_tf.components.faces.model_defence import ModelDefence, training_split
from poison_tf.components.poison_planner import PoisonPlanner
from poison_tf.data.synthetic_faces import HEIGHT, WIDTH
from poison_tf.poison.face_triggers import write_face_trigger

NC = json.dumps({"epochs": 2, "batch_size": 16, "unlearning_epochs": 1})


@pytest.fixture(scope="module")
def plan(artefacts, tmp_path_factory):
    stamp = write_face_trigger("sunglasses", str(tmp_path_factory.mktemp("t")), HEIGHT, WIDTH)
    return artefacts.run(
        PoisonPlanner,
        {"examples": artefacts.face_examples},
        trigger="image",
        trigger_params=json.dumps(stamp),
        rate_percent=30.0,
        label_rule=json.dumps({"kind": "all_to_one", "target": [0]}),
        exclude_target_class=True,
    )["plan"]


@pytest.fixture(scope="module")
def poisoned_model(artefacts, plan):
    inputs = {"examples": artefacts.face_examples, "plan": plan}
    return artefacts.run(FaceClassifierTrainer, inputs, epochs=2, global_batch_size=8)["model"]


def run(artefacts, model, plan, **params) -> dict:
    inputs = {"examples": artefacts.face_examples, "model": model}
    if plan is not None:
        inputs["plan"] = plan
    out = artefacts.run(ModelDefence, inputs, backdoor="sunglasses", **params)["metrics"]
    return out, types.Metrics.read(out)


def test_training_split_is_what_the_trainer_saw(artefacts, plan):
    loaded = types.PoisonPlan.load(plan)
    images, labels, ids = training_split(artefacts.face_examples.uri, loaded)
    clean, clean_labels, _ = training_split(artefacts.face_examples.uri, None)
    hit = np.isin(ids, loaded.poisoned_ids)
    assert hit.sum() == loaded.count > 0
    assert (labels[hit] == 0).all()
    assert not np.allclose(images[hit], clean[hit]) and np.array_equal(images[~hit], clean[~hit])


@pytest.mark.parametrize("kind", ["spectral", "ac"])
def test_filters_are_scored_against_the_plan(artefacts, plan, poisoned_model, kind):
    retrain = json.dumps({"epochs": 1, "batch_size": 8, "optimizer": "adam", "learning_rate": 1e-3})
    _, result = run(artefacts, poisoned_model, plan, kind=kind, retrain=retrain)
    loaded = types.PoisonPlan.load(plan)
    assert result["ground_truth"] and 0 < result["removed"] < result["num_train"]
    assert result["removed_poisoned"] <= min(result["removed"], loaded.count)
    assert result["precision"] == pytest.approx(result["removed_poisoned"] / result["removed"])
    assert result["recall"] == pytest.approx(result["removed_poisoned"] / loaded.count)
    for key in ("clean_acc", "asr", "ra"):
        assert 0 <= result["before"][key] <= 1 and 0 <= result["after"][key] <= 1
    assert 0 <= result["after"]["der"] <= 1


def test_filter_without_retraining_has_no_after(artefacts, plan, poisoned_model):
    _, result = run(artefacts, poisoned_model, plan, kind="spectral")
    assert "after" not in result and result["precision"] is not None


def test_neural_cleanse(artefacts, plan, poisoned_model):
    out, result = run(artefacts, poisoned_model, plan, kind="nc", params=NC)
    assert len(result["mask_l1"]) == 3 and all(n > 0 for n in result["mask_l1"])
    assert result["target_anomaly_index"] >= 0
    assert set(result["after"]) >= {"clean_acc", "asr", "ra", "der", "rir"}
    assert os.path.getsize(out.path("nc_trigger.png")) > 100


def test_without_a_plan_nothing_is_scored(artefacts):
    _, result = run(artefacts, artefacts.face_model, None, kind="ac")
    assert not result["ground_truth"] and "precision" not in result
    assert set(result["before"]) == {"clean_acc"}
    _, result = run(artefacts, artefacts.face_model, None, kind="nc", params=NC)
    assert set(result["after"]) == {"clean_acc"} and "target_anomaly_index" in result


def test_bad_input(artefacts):
    inputs = {"examples": artefacts.face_examples, "model": artefacts.face_model}
    artefacts.user_error(ModelDefence, inputs, "--kind: unknown defence 'strip'", kind="strip")
    artefacts.user_error(ModelDefence, inputs, "--params: not valid JSON", kind="nc", params="{")
    artefacts.user_error(
        ModelDefence,
        {**inputs, "model": artefacts.face_examples},
        "expected 'FaceModel'",
        kind="nc",
    )


def test_defence_table_cells():
    from poison_tf.components.faces.defence_table import defence_frame, defence_sections

    runs = [
        {"defence": "spectral", "backdoor": "a", "ground_truth": True, "num_train": 10,
         "removed": 2, "precision": 0.5, "recall": 1.0, "before": {}},
        {"defence": "nc", "backdoor": "a", "ground_truth": True, "detected": None,
         "target_anomaly_index": 1.5,
         "after": {"clean_acc": 0.9, "asr": 0.1, "ra": 0.8, "der": 0.9, "rir": 0.8}},
    ]  # fmt: skip
    frame = defence_frame(runs)
    assert frame.loc[("spectral", "a"), "removed"] == "2 (20%)"
    assert frame.loc[("nc", "a"), "detected"] == "none"
    assert frame.loc[("nc", "a"), "der"] == 0.9 and "rir" not in frame.columns
    text = "\n".join(defence_sections(runs))
    assert "| spectral | a | 2 (20%) | 0.5000 | 1.0000 | — |" in text and "not retrained" in text
    assert defence_sections([]) == []
