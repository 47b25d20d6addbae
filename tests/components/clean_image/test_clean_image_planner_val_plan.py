"""CleanImagePlanner: a skipped validation plan is logged with its reason; real errors surface."""

from __future__ import annotations

import os

import numpy as np
import pytest
from absl import logging

from poison_tf import types
from poison_tf.attacks.class_pairs import make_pair
from poison_tf.components.clean_image import clean_image_planner as planner
from poison_tf.dag.artifact import Artifact
from poison_tf.errors import UserInputError
from poison_tf.poison.relabel_plan import InstanceTable

NAMES = ["bridge", "car", "bus"]
TRAIN = InstanceTable(np.arange(6), [0, 0, 0, 0, 1, 2], list("aabbcc"), [1, 2, 1, 2, 1, 1])


def _run(tmp_path, monkeypatch, val_table, **params):
    tables = {"train": TRAIN, "val": val_table}
    monkeypatch.setattr(planner, "table_from_records", lambda uri, split: tables[split])
    monkeypatch.setattr(
        types.ClassPairs, "load", classmethod(lambda cls, a: [make_pair("bridge", "car", NAMES)])
    )
    out = Artifact("RelabelPlan", str(tmp_path / "plan"))
    os.makedirs(out.uri)
    props = {"index": 0, "ratio": 0.5, "seed": 0, "mode": "instances"} | params
    ins = {"examples": [Artifact("Examples", "x")], "pairs": [Artifact("ClassPairs", "y")]}
    planner.CleanImagePlannerExecutor().Do(ins, {"plan": [out]}, props)
    return out


def test_val_split_without_host_is_logged_with_the_reason(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(logging, "warning", lambda msg, *a: warnings.append(msg % a))
    no_host = InstanceTable([10, 11], [1, 2], ["v", "w"], [1, 1])
    out = _run(tmp_path, monkeypatch, no_host)
    assert not os.path.exists(out.path(types.RelabelPlan.VAL_FILE))
    assert len(warnings) == 1 and "'bridge' has no instances in the validation split" in warnings[0]
    assert "validation" in out.properties["val_plan_skipped"]


def test_val_plan_written_when_the_host_is_there(tmp_path, monkeypatch):
    val = InstanceTable([10, 11, 12], [0, 0, 1], ["v", "v", "w"], [1, 2, 1])
    out = _run(tmp_path, monkeypatch, val)
    assert types.RelabelPlan.load_val(out).count == 1
    assert "val_plan_skipped" not in out.properties


def test_other_val_errors_reach_the_user(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise UserInputError("val labels: class 7 out of range")

    monkeypatch.setattr(planner, "plan_validation_relabel", broken)
    with pytest.raises(UserInputError, match="class 7 out of range"):
        _run(tmp_path, monkeypatch, TRAIN)
