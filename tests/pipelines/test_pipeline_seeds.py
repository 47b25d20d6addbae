"""`--seeds=N`: N seeded copies of the seed-dependent components, reports with mean ± std."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from absl import flags
from absl.testing import flagsaver
from pipeline_cli import run_cli
from test_adversarial_patch import TINY as PATCH_TINY
from test_backdoor_detection import TINY as DETECTION_TINY

from pipelines import adversarial_patch, backdoor_detection


@pytest.fixture(autouse=True)
def parsed_flags():
    """`build` reads shared flags (--strategy, --deterministic) as a CLI run would have them."""
    with flagsaver.flagsaver():
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        yield


def _by_type(pipeline, name: str) -> list:
    return [c for c in pipeline.components if type(c).__name__ == name]


def test_detection_dag_has_seeded_copies_and_first_seed_keeps_its_ids(tmp_path):
    config = dataclasses.replace(
        backdoor_detection.PRESETS["demo"], triggers=("sunglasses", "lipstick"), seeds=3
    )
    pipeline, report_id = backdoor_detection.build(config, str(tmp_path))
    ids = [c.id for c in pipeline.components]
    assert len(ids) == len(set(ids))
    single, _ = backdoor_detection.build(dataclasses.replace(config, seeds=1), str(tmp_path))
    assert {c.id for c in single.components} <= set(ids)  # seed 17 reuses the single-run cache
    trainers = _by_type(pipeline, "FaceClassifierTrainer")
    assert [t.exec_properties["seed"] for t in trainers] == [17, 17, 18, 18, 19, 19]
    plans = _by_type(pipeline, "PoisonPlanner")
    assert sorted(p.exec_properties["seed"] for p in plans) == [17, 17, 18, 18, 19, 19]
    vaes = [c for c in _by_type(pipeline, "DetectorFitter") if c.exec_properties["kind"] == "vae"]
    assert [json.loads(v.exec_properties["params"])["seed"] for v in vaes] == [17, 18, 19]
    report = next(c for c in pipeline.components if c.id == report_id)
    assert json.loads(report.exec_properties["seeds"]) == [17, 17, 18, 18, 19, 19]
    assert len(_by_type(pipeline, "DetectionEvaluator")) == 6


def test_patch_dag_has_seeded_victims_patches_and_evaluators(tmp_path):
    config = dataclasses.replace(adversarial_patch.PRESETS["demo"], seeds=2)
    pipeline, report_id = adversarial_patch.build(config, str(tmp_path))
    ids = [c.id for c in pipeline.components]
    assert len(ids) == len(set(ids))
    victims = _by_type(pipeline, "PatchVictimTrainer")
    assert [v.exec_properties["seed"] for v in victims] == [config.seed, config.seed + 1]
    evaluators = _by_type(pipeline, "PatchEvaluator")
    assert [e.exec_properties["seed"] for e in evaluators] == [config.seed, config.seed + 1]
    assert len(_by_type(pipeline, "PatchExplainer")) == 1
    report = next(c for c in pipeline.components if c.id == report_id)
    assert len(report.inputs["metrics"]) == 2


def test_zero_seeds_is_a_user_error(tmp_path, capsys):
    assert run_cli([*DETECTION_TINY, "--seeds=0", f"--output_dir={tmp_path / 'x'}"]) == 2
    assert "--seeds=0" in capsys.readouterr().err
    assert not (tmp_path / "x" / "report.md").exists()


@pytest.mark.slow
def test_tiny_detection_run_with_two_seeds_reports_mean_and_spread(tmp_path):
    out = tmp_path / "run"
    argv = [*DETECTION_TINY, "--detectors=vae,mahalanobis", "--seeds=2", f"--output_dir={out}"]
    assert run_cli(argv) == 0
    report = (out / "report.md").read_text()
    assert "## Over 2 seeds (17, 18): detection of each model's own trigger" in report
    assert "±" in report
    long = pd.read_csv(out / "detection_seeds.csv", index_col=[0, 1, 2])
    assert sorted(set(long.index.get_level_values("seed"))) == [17, 18]
    assert len(long) == 2 * 2 * 2  # seeds × detectors × triggers
    first = pd.read_csv(out / "detection.csv", index_col=[0, 1])
    pd.testing.assert_frame_equal(long.xs(17, level="seed"), first, check_exact=False)


@pytest.mark.slow
def test_tiny_patch_run_with_two_seeds_reports_mean_and_spread(tmp_path):
    out = tmp_path / "run"
    assert run_cli([*PATCH_TINY, "--seeds=2", f"--output_dir={out}"]) == 0
    report = (out / "report.md").read_text()
    assert "## Over 2 seeds" in report and "success vs patch area" in report
    long = pd.read_csv(out / "patch_metrics_seeds.csv", index_col=[0, 1])
    assert len(set(long.index.get_level_values(0))) == 2
    assert long["targeted_success"].between(0, 1).all()
