"""The backdoor-detection pipeline end to end at tiny sizes, its tables and its cache; at a URI
root its trigger images live at the URI, where a task on any node reads them."""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid

import numpy as np
import pandas as pd
import pytest
from absl import flags
from absl.testing import flagsaver
from pipeline_cli import error_lines, rerun_is_fully_cached, run_cli, run_into

from pipelines import backdoor_detection
from poison_tf.dag import staging
from poison_tf.poison.face_triggers import write_face_trigger
from poison_tf.poison.triggers import load_rgba, trigger_from_config

TINY = [
    "--pipeline=backdoor_detection",
    "--preset=demo",
    "--num_identities=4",
    "--images_per_identity=20",
    "--epochs=3",
    "--global_batch_size=16",
    "--triggers=sunglasses,lipstick",
    "--rate_percent=20",
]


@pytest.mark.slow
def test_tiny_run_writes_the_tables_and_reuses_the_cache(tmp_path):
    out = run_into(tmp_path, TINY)
    report = (out / "report.md").read_text()
    assert "## Clean threshold and mean score per poisoned set" in report

    attack = pd.read_csv(out / "attack.csv", index_col=0)
    assert list(attack.index) == ["sunglasses", "lipstick"]
    assert list(attack.columns) == ["clean_accuracy", "asr_sunglasses", "asr_lipstick"]
    assert ((attack >= 0) & (attack <= 1)).all().all()

    means = pd.read_csv(out / "mean_scores.csv", index_col=[0, 1])
    assert sorted(set(means.index.get_level_values(0))) == [
        "fine_pruning",
        "mahalanobis",
        "strip",
        "vae",
    ]
    assert len(means) == 1 + 3 * 2  # one model-free VAE row, three detectors per model
    assert list(means.columns) == [
        "clean_threshold",
        "mean_clean",
        "mean_sunglasses",
        "mean_lipstick",
    ]
    assert means.notna().all().all()
    assert 0 < means.loc[("vae", "(any model)"), "mean_clean"] < 1  # mean |x - x̂| of [0, 1] images

    detection = pd.read_csv(out / "detection.csv", index_col=[0, 1])
    assert len(detection) == 4 * 2
    for column in ("frr", "detection_rate", "roc_auc"):
        assert detection[column].between(0, 1).all(), column
    repair = pd.read_csv(out / "repair.csv", index_col=[0, 1])
    assert list(repair.index) == [("fine_pruning", "sunglasses"), ("fine_pruning", "lipstick")]
    rates = ["clean_accuracy", "repaired_clean_accuracy", "asr", "repaired_asr", "disagree_clean"]
    assert repair[rates].stack().between(0, 1).all()
    # B is the trained model (same test split; only summation order may differ)
    assert (repair["clean_accuracy"].values - attack["clean_accuracy"].values).max() < 0.02
    assert "## Repair (fine-pruning" in report
    assert (out / "score_histograms.png").stat().st_size > 1000
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == ["lipstick", "sunglasses"]
    assert len(list((out / ".pipeline").rglob("VAE.h5"))) == 1

    defences = pd.read_csv(out / "defences.csv", index_col=[0, 1])
    triggers = ["sunglasses", "lipstick"]
    assert sorted(defences.index) == sorted(
        (d, t) for d in ("spectral", "ac", "nc") for t in triggers
    )
    filters = defences.loc[["spectral", "ac"]]
    assert filters[["precision", "recall"]].stack().between(0, 1).all()
    removed = filters["removed"].str.extract(r"^(\d+) \(")[0].astype(int)
    assert ((removed > 0) & (removed < 4 * 20)).all()  # a share of the 48-image train split
    assert filters[["clean_acc", "asr"]].isna().all().all()  # the demo does not retrain
    nc = defences.loc["nc"]
    assert nc[["clean_acc", "asr", "ra", "der"]].stack().between(0, 1).all()
    assert set(nc["detected"].astype(str)) <= {"none", "0", "1", "2", "3"}
    assert (nc["target_anomaly_index"] >= 0).all()
    assert "## Model defences" in report and "not retrained" in report
    assert "![nc_trigger_sunglasses.png](nc_trigger_sunglasses.png)" in report
    assert (out / "nc_trigger_lipstick.png").stat().st_size > 100

    assert rerun_is_fully_cached([*TINY, f"--output_dir={out}"], out)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--triggers=hat", "hat"),
        ("--detectors=spectral", "spectral"),
        ("--defences=strip", "--defences: unknown defence 'strip'"),
        ("--defence_clean_images=-1", "--defence_clean_images=-1"),
        ("--rate_percent=0", "(0, 100]"),
    ],
)
def test_bad_flags_exit_2_and_write_nothing(tmp_path, capsys, flag, message):
    out = tmp_path / "run"
    assert run_cli([*TINY, flag, f"--output_dir={out}"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0]
    assert not out.exists()


def test_at_a_uri_root_the_trigger_images_are_read_from_the_uri(tmp_path, monkeypatch):
    monkeypatch.setenv(staging.STAGING_ENV, str(tmp_path / "driver"))
    root = f"ram://detection-{uuid.uuid4().hex[:8]}/study"
    config = dataclasses.replace(backdoor_detection.PRESETS["demo"], triggers=("lipstick",))
    with flagsaver.flagsaver():
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        pipeline, _ = backdoor_detection.build(config, root)
    (plan,) = [c for c in pipeline.components if type(c).__name__ == "PoisonPlanner"]
    params = json.loads(plan.exec_properties["trigger_params"])
    assert params["path"].startswith(f"{root}/.pipeline/triggers/lipstick_")
    shutil.rmtree(tmp_path / "driver")  # a task on another node has no copy of the driver's
    local = write_face_trigger("lipstick", str(tmp_path / "local"))
    np.testing.assert_array_equal(load_rgba(params["path"]), load_rgba(local["path"]))
    trigger = trigger_from_config({"name": "image", **params})  # as a plan rebuilds it
    assert trigger.config["path"] == params["path"]
