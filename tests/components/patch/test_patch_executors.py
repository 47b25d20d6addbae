"""Executor tests of the adversarial patch study's components."""

from __future__ import annotations

import os

import numpy as np

from poison_tf import types
from poison_tf.components.patch.patch_evaluator import PatchEvaluator
from poison_tf.components.patch.patch_explainer import PatchExplainer
from poison_tf.components.patch.patch_optimizer import PatchOptimizer
from poison_tf.components.patch.patch_report import PatchReport
from poison_tf.components.patch.patch_victim_importer import PatchVictimImporter
from poison_tf.components.patch.patch_victim_trainer import PatchVictimTrainer


def test_victim_trainer(artefacts):
    victim = artefacts.victim
    assert victim.properties["arch"] == "small" and 0 <= victim.properties["test_accuracy"] <= 1
    assert types.VictimModel.load(victim).output_shape == (None, 4)
    artefacts.user_error(
        PatchVictimTrainer, {"examples": artefacts.patch_examples}, "--arch", arch="vgg", epochs=1
    )


def test_victim_importer(artefacts, tmp_path):
    path = str(tmp_path / "victim.keras")
    types.VictimModel.load(artefacts.victim).save(path)
    imported = artefacts.run(PatchVictimImporter, model_file=path)["model"]
    assert imported.properties["source"] == path
    assert types.VictimModel.load(imported).output_shape == (None, 4)
    artefacts.user_error(
        PatchVictimImporter, None, "missing.keras", model_file=str(tmp_path / "missing.keras")
    )


def test_optimizer(artefacts):
    patch = artefacts.patch
    colours, geometry, info = types.Patch.load(patch)
    assert colours.shape == (2, 2, 3) and np.all((colours >= 0) & (colours <= 1))
    assert patch.properties["area_fraction"] == geometry.area_fraction
    assert os.path.isfile(patch.path(types.Patch.JSON_FILE)) and "geometry" in info
    artefacts.user_error(
        PatchOptimizer,
        {"model": artefacts.victim, "examples": artefacts.patch_examples},
        "--keep_clear",
        keep_clear="1,2,3",
        steps=1,
    )


def test_evaluator(artefacts):
    inputs = {"model": artefacts.victim, "examples": artefacts.patch_examples}
    metrics = artefacts.run(PatchEvaluator, dict(inputs, patches=[artefacts.patch]))["metrics"]
    result = types.PatchMetrics.read(metrics)
    assert result["num_images"] == 16 and result["entries"]
    assert os.path.isfile(metrics.path(types.PatchMetrics.SWEEP_FILE))
    artefacts.user_error(
        PatchEvaluator, dict(inputs, patches=[artefacts.victim]), "expected 'Patch'"
    )


def test_explainer_and_report(artefacts):
    inputs = {"model": artefacts.victim, "examples": artefacts.patch_examples}
    explanation = artefacts.run(PatchExplainer, dict(inputs, patch=artefacts.patch), num_images=2)[
        "explanation"
    ]
    assert open(explanation.path(types.Explanation.PNG_FILE), "rb").read(4) == b"\x89PNG"
    artefacts.user_error(
        PatchExplainer, dict(inputs, patch=artefacts.patch), "gradcam", gradcam_layer="nope"
    )
    metrics = artefacts.run(PatchEvaluator, dict(inputs, patches=[artefacts.patch]))["metrics"]
    report = artefacts.run(
        PatchReport,
        {"metrics": metrics, "patch": artefacts.patch, "model": artefacts.victim},
        title="tiny patch",
    )["report"]
    assert open(report.path(types.Report.FILE)).read().startswith("# tiny patch")
    assert os.path.isfile(report.path("victim.keras"))
    artefacts.user_error(
        PatchReport,
        {"metrics": metrics, "patch": artefacts.patch, "model": artefacts.patch},
        "expected 'VictimModel'",
    )
