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

NC = {"epochs": 2, "batch_size": 16, "unlearning_epochs": 1}


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


def run(artefacts, model, plan, **params) -> tuple:
    inputs = {"examples": artefacts.face_examples, "model": model}
    if plan is not None:
        inputs["plan"] = plan
    out = artefacts.run(ModelDefence, inputs, backdoor="sunglasses", **params)["metrics"]
    result = types.Metrics.read(out)
    return out, result, {row["defence"]: row for row in result["defences"]}


def test_training_split_is_what_the_trainer_saw(artefacts, plan):
    loaded = types.PoisonPlan.load(plan)
    images, labels, ids = training_split(artefacts.face_examples.uri, loaded)
    clean, clean_labels, _ = training_split(artefacts.face_examples.uri, None)
    hit = np.isin(ids, loaded.poisoned_ids)
    assert hit.sum() == loaded.count > 0
    assert (labels[hit] == 0).all()
    assert not np.allclose(images[hit], clean[hit]) and np.array_equal(images[~hit], clean[~hit])


@pytest.fixture(scope="module")
def defended(artefacts, plan, poisoned_model):
    retrain = json.dumps({"epochs": 1, "batch_size": 8, "optimizer": "adam", "learning_rate": 1e-3})
    params = json.dumps({"nc": NC, "spectral": {"percentile": 80.0}})
    return run(artefacts, poisoned_model, plan, params=params, retrain=retrain)


@pytest.mark.parametrize("kind", ["spectral", "ac"])
def test_filters_are_scored_against_the_plan(plan, defended, kind):
    _, result, rows = defended
    row = rows[kind]
    loaded = types.PoisonPlan.load(plan)
    assert result["ground_truth"] and 0 < row["removed"] < row["num_train"]
    assert row["removed_poisoned"] <= min(row["removed"], loaded.count)
    assert row["precision"] == pytest.approx(row["removed_poisoned"] / row["removed"])
    assert row["recall"] == pytest.approx(row["removed_poisoned"] / loaded.count)
    for key in ("clean_acc", "asr", "ra"):
        assert 0 <= result["before"][key] <= 1 and 0 <= row["after"][key] <= 1
    assert 0 <= row["after"]["der"] <= 1
    if kind == "spectral":  # percentile 80 of every class: about a fifth of the split
        assert row["removed"] == pytest.approx(0.2 * row["num_train"], abs=3)


def test_neural_cleanse(defended):
    out, _, rows = defended
    row = rows["nc"]
    assert len(row["mask_l1"]) == 3 and all(n > 0 for n in row["mask_l1"])
    assert row["target_anomaly_index"] >= 0
    assert set(row["after"]) >= {"clean_acc", "asr", "ra", "der", "rir"}
    assert os.path.getsize(out.path("nc_trigger.png")) > 100


def test_filter_without_retraining_has_no_after(artefacts, plan, poisoned_model):
    _, _, rows = run(artefacts, poisoned_model, plan, kinds="spectral")
    assert list(rows) == ["spectral"] and "after" not in rows["spectral"]


def test_without_a_plan_nothing_is_scored(artefacts):
    params = json.dumps({"nc": NC})
    _, result, rows = run(artefacts, artefacts.face_model, None, kinds="ac,nc", params=params)
    assert not result["ground_truth"] and "precision" not in rows["ac"]
    assert set(result["before"]) == {"clean_acc"}
    assert set(rows["nc"]["after"]) == {"clean_acc"} and "target_anomaly_index" in rows["nc"]


def test_bad_input(artefacts):
    inputs = {"examples": artefacts.face_examples, "model": artefacts.face_model}
    artefacts.user_error(ModelDefence, inputs, "--kinds: unknown defence 'strip'", kinds="strip")
    artefacts.user_error(ModelDefence, inputs, "--params: not valid JSON", params="{")
    artefacts.user_error(ModelDefence, inputs, "--clean_images=-1", clean_images=-1)
    artefacts.user_error(ModelDefence, {**inputs, "model": artefacts.face_examples}, "'FaceModel'")


def test_defence_table_cells():
    from poison_tf.components.faces.defence_table import defence_frame, defence_sections

    runs = [
        {"backdoor": "a", "ground_truth": True, "defences": [
            {"defence": "spectral", "num_train": 10, "removed": 2, "precision": 0.5, "recall": 1.0},
            {"defence": "nc", "detected": None, "target_anomaly_index": 1.5,
             "after": {"clean_acc": 0.9, "asr": 0.1, "ra": 0.8, "der": 0.9, "rir": 0.8}},
        ]},
    ]  # fmt: skip
    frame = defence_frame(runs)
    assert frame.loc[("spectral", "a"), "removed"] == "2 (20%)"
    assert frame.loc[("nc", "a"), "detected"] == "none"
    assert frame.loc[("nc", "a"), "der"] == 0.9 and "rir" not in frame.columns
    text = "\n".join(defence_sections(runs))
    assert "| spectral | a | 2 (20%) | 0.5000 | 1.0000 | — |" in text and "not retrained" in text
    assert defence_sections([]) == [] and defence_sections([runs[0] | {"defences": []}]) == []
