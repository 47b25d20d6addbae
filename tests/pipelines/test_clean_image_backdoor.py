"""The clean-image backdoor pipeline end to end (tiny sizes) and its bad-input contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pipeline_cli import exits_2_with_one_error, run_into

from poison_tf.poison.relabel_plan import RelabelPlan

TINY = [
    "--pipeline=clean_image_backdoor",
    "--preset=demo",
    "--num_train=48",
    "--num_val=16",
    "--epochs=1",
    "--image_size=64",
    "--global_batch_size=16",
    "--num_tsne_pairs=1",
    "--pairs=bus:train",
]


@pytest.mark.slow
def test_tiny_study_writes_every_table(tmp_path):
    out = run_into(tmp_path, TINY)
    report = (out / "report.md").read_text()
    for heading in (
        "## Pair selection",
        "## Instance Difference (Host/Target) with 0.5 ratio",
        "## Base model",
        "Base vs poisoned",
        "## Attack",
        "**bus2train**",
    ):
        assert heading in report
    plans = [
        RelabelPlan.load(str(p))
        for p in (out / ".pipeline").glob("CleanImagePlanner.*/*/plan/plan.json")
    ]
    assert len(plans) == 2
    given = next(plan for plan in plans if plan.pair.slug == "bus2train")
    assert given.count == round(0.5 * given.host_initial)  # exact count, labels only
    tsne = next(plan for plan in plans if plan.pair.slug != "bus2train")
    assert tsne.pair.host_name != "bus"  # a t-SNE pair never reuses a given host
    attack = pd.read_csv(out / "attack.csv")
    assert set(attack["Pair"]) == {"bus2train", tsne.pair.slug}
    assert ((attack["box_success"] >= 0) & (attack["box_success"] <= 1)).all()
    assert (out / "tsne.png").is_file() and (out / "samples_bus2train.png").is_file()
    assert (out / "tensorboard" / "projector").is_dir() and (out / "tensorboard" / "base").is_dir()
    pairs = json.loads(
        next((out / ".pipeline").glob("CleanImagePairSelector/*/pairs/pairs.json")).read_text()
    )
    assert [p["host_name"] for p in pairs][-1] == "bus"


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--pairs=bus:tram", "tram"),
        ("--pairs=bus:bus", "bus"),
        ("--ratio=1.5", "--ratio"),
        ("--ratio=0", "--ratio"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, capfd, flag, message):
    out = tmp_path / "run"
    assert exits_2_with_one_error([*TINY, flag, f"--output_dir={out}"], capfd, message)
    assert not (out / "report.md").exists()


@pytest.mark.real_data
def test_host_without_instances_is_refused_before_training(tmp_path, capfd, shared_dir):
    data = shared_dir / "datasets" / "coco8-seg" / "data.yaml"
    out = tmp_path / "run"
    argv = [*TINY[:-1], f"--source=yolo:{data}", "--pairs=toothbrush:person", f"--output_dir={out}"]
    assert exits_2_with_one_error(argv, capfd, "'toothbrush' has no instances")
    assert not (out / ".pipeline").exists() or not list((out / ".pipeline").glob("SegTrainer*"))


def test_given_pairs_are_canonical_and_unique_so_each_gets_one_model():
    import dataclasses

    from pipelines import clean_image_backdoor

    config = dataclasses.replace(
        clean_image_backdoor.PRESETS["demo"], pairs="bus:train,Bus:train,traffic_sign:bus,"
    )
    assert clean_image_backdoor.validate(config).pairs == "bus:train,traffic sign:bus"
