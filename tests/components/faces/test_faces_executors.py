"""Executor tests of the backdoor detection study's components (faces)."""

from __future__ import annotations

import json
import os

import pytest

from poison_tf import types
from poison_tf.components.faces.detection_evaluator import DetectionEvaluator
from poison_tf.components.faces.detection_report import DetectionReport
from poison_tf.components.faces.detector_fitter import DetectorFitter
from poison_tf.components.faces.face_classifier_trainer import FaceClassifierTrainer
from poison_tf.data.synthetic_faces import HEIGHT, WIDTH
from poison_tf.poison.face_triggers import write_face_trigger
from poison_tf.poison.triggers import make_trigger

VAE = json.dumps({"latent_dim": 4, "epochs": 1, "batch_size": 8, "holdout": 0.25, "seed": 0})


@pytest.fixture(scope="module")
def vae(artefacts):
    inputs = {"examples": artefacts.face_examples}
    return artefacts.run(DetectorFitter, inputs, kind="vae", params=VAE)["detector"]


@pytest.fixture(scope="module")
def metrics(artefacts, vae, tmp_path_factory):
    stamp = write_face_trigger("sunglasses", str(tmp_path_factory.mktemp("t")), HEIGHT, WIDTH)
    triggers = json.dumps({"sunglasses": make_trigger("image", **stamp).config})
    inputs = {"model": artefacts.face_model, "examples": artefacts.face_examples, "detectors": vae}
    return artefacts.run(DetectionEvaluator, inputs, triggers=triggers, backdoor="sunglasses")[
        "metrics"
    ]


def test_trainer(artefacts):
    model = artefacts.face_model
    assert model.properties["num_classes"] == 3
    assert types.FaceModel.load(model).output_shape == (None, 3)
    artefacts.user_error(
        FaceClassifierTrainer,
        {"examples": artefacts.face_examples, "plan": artefacts.face_examples},
        "expected 'PoisonPlan'",
        epochs=1,
    )


def test_detector_fitter(artefacts, vae):
    assert vae.properties["kind"] == "vae" and vae.properties["fitted_on"] == "val"
    assert vae.properties["threshold"] > 0
    assert os.path.isfile(vae.path(types.Detector.file_name("vae")))
    artefacts.user_error(
        DetectorFitter, {"examples": artefacts.face_examples}, "needs the trained", kind="strip"
    )
    artefacts.user_error(DetectorFitter, {"examples": artefacts.face_examples}, "--kind", kind="x")


def test_evaluator(artefacts, metrics):
    result = types.DetectionMetrics.read(metrics)
    assert result["backdoor"] == "sunglasses" and 0 <= result["clean_accuracy"] <= 1
    entry = result["detectors"]["vae"]
    assert 0 <= entry["frr"] <= 1 and "sunglasses" in entry["triggers"]
    artefacts.user_error(
        DetectionEvaluator,
        {"model": artefacts.face_examples, "examples": artefacts.face_examples, "detectors": []},
        "expected 'FaceModel'",
        triggers="{}",
    )


def test_report(artefacts, metrics):
    inputs = {"metrics": [metrics], "models": [artefacts.face_model]}
    report = artefacts.run(DetectionReport, inputs, title="tiny faces")["report"]
    assert open(report.path(types.Report.FILE)).read().startswith("# tiny faces")
    artefacts.user_error(
        DetectionReport,
        {"metrics": [artefacts.face_examples], "models": [artefacts.face_model]},
        "expected 'DetectionMetrics'",
    )


def test_report_with_model_defences(artefacts, metrics):
    from poison_tf.components.faces.model_defence import ModelDefence

    inputs = {"examples": artefacts.face_examples, "model": artefacts.face_model}
    defence = artefacts.run(ModelDefence, inputs, kinds="ac", backdoor="sunglasses")["metrics"]
    inputs = {"metrics": [metrics], "models": [artefacts.face_model], "defences": [defence]}
    report = artefacts.run(DetectionReport, inputs)["report"]
    text = open(report.path(types.Report.FILE)).read()
    assert "## Model defences" in text and "cannot be scored" in text
    row = open(report.path("defences.csv")).read().splitlines()[1].split(",")
    assert row[:2] == ["ac", "sunglasses"] and row[3:5] == ["not scored", "not scored"]
