"""The BadNets-on-regression pipeline end to end (tiny sizes) and its command-line contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from pipeline_cli import error_lines, rerun_is_fully_cached, run_cli, run_into
from tiny_flags import BADNETS_TINY_SIZES

TINY = [
    "--pipeline=badnets_regression",
    "--preset=demo",
    *BADNETS_TINY_SIZES,
    "--triggers=checkerboard,point",
    "--rates=50,10",
]


@pytest.mark.slow
def test_tiny_sweep_writes_the_report_and_reuses_the_cache(tmp_path):
    out = run_into(tmp_path, TINY)
    report = (out / "report.md").read_text()
    assert "## Clean MAE" in report and "## Attack MAE" in report and "baseline (0)" in report
    attack = pd.read_csv(out / "attack_mae.csv", index_col=0)
    assert list(attack.columns) == ["Checkerboard", "Point"]
    assert list(attack.index.astype(str)) == ["50", "10", "baseline (0)"]
    counts = pd.read_csv(out / "poison_counts.csv", index_col=0)
    assert counts.loc[50, "checkerboard"] == 32 and counts.loc[10, "point"] == round(0.1 * 64)
    assert (out / "mae_vs_rate.png").stat().st_size > 1000
    runs = sorted(os.listdir(out / "tensorboard"))
    assert runs == [
        "baseline",
        "checkerboard_10pct",
        "checkerboard_50pct",
        "point_10pct",
        "point_50pct",
    ]

    assert rerun_is_fully_cached([*TINY, f"--output_dir={out}"], out)


@pytest.mark.slow
def test_finetune_protocol_starts_poisoned_models_from_the_baseline_and_reports_seeds(tmp_path):
    out = tmp_path / "run"
    flags = ["--triggers=checkerboard", "--rates=50", "--protocol=finetune"]
    flags += ["--finetune_epochs=1", "--seeds=2", "--seeded_rate=50"]
    assert run_cli([*TINY, *flags, f"--output_dir={out}"]) == 0
    report = (out / "report.md").read_text()
    assert (
        "Protocol: **finetune**" in report and "## Seeds: mean ± sample std over 2 seeds" in report
    )
    assert "## Unpoisoned model: clean MAE per angle" in report
    seeds = pd.read_csv(out / "seeds.csv", index_col=0)
    assert list(seeds.index) == ["baseline", "checkerboard_50"] and list(seeds["seeds"]) == [2, 2]
    pipeline = out / ".pipeline"
    for poisoned, baseline in [
        ("HeadPoseTrainer.checkerboard_50", "HeadPoseTrainer.baseline"),
        ("HeadPoseTrainer.checkerboard_50_seed18", "HeadPoseTrainer.baseline_seed18"),
    ]:
        (record,) = (pipeline / poisoned).glob("*/execution.json")
        (init,) = json.loads(record.read_text())["inputs"]["init_model"]
        assert f"/{baseline}/" in init["uri"]


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--rates=0", "(0, 100]"),
        ("--rates=101", "(0, 100]"),
        ("--rates=ten", "not a number"),
        ("--triggers=star", "star"),
        ("--preset=huge", "presets"),
        ("--backbone_weights=/nonexistent/resnet18.pth", "--backbone_weights"),
        ("--protocol=warmstart", "--protocol"),
        ("--protocol=finetune --finetune_epochs=0", "--finetune_epochs"),
        ("--seeds=2 --seeded_rate=0", "(0, 100]"),
    ],
)
def test_bad_flags_exit_2_with_one_message_and_write_nothing(tmp_path, capsys, flag, message):
    out = tmp_path / "run"
    assert run_cli([*TINY, *flag.split(), f"--output_dir={out}"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0]
    assert not out.exists()


def test_unknown_strategy_is_a_flag_error(tmp_path):
    assert run_cli([*TINY, "--strategy=cluster", f"--output_dir={tmp_path}"]) == 2


def test_stage_program_rejects_a_trigger_larger_than_the_images(tmp_path):
    """`poison-tf-poison` on a 32×32 examples artefact with a 40-pixel checkerboard."""
    from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen

    examples = HeadPoseExampleGen.run_standalone(
        {}, {"num_train": 8, "num_test": 4, "image_size": 32}, str(tmp_path / "gen")
    )["examples"]
    out = tmp_path / "poison"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from poison_tf.components.stages import poison; poison()",
            f"--examples={examples.uri}",
            "--trigger=checkerboard",
            '--trigger_params={"size": 40}',
            "--rate_percent=10",
            '--label_rule={"kind": "regression_target", "target": [90, 0, 0]}',
            f"--output_dir={out}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "smaller than the checkerboard trigger" in result.stderr
    assert examples.uri in result.stderr
    completed = (
        [d for d in os.listdir(out / "PoisonPlanner")] if (out / "PoisonPlanner").exists() else []
    )
    assert all(
        name.startswith(".") for name in completed
    )  # only temporary/work folders, no artefact


def test_stage_program_writes_a_plan_from_a_flagfile(tmp_path):
    from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen

    examples = HeadPoseExampleGen.run_standalone(
        {}, {"num_train": 20, "num_test": 4, "image_size": 32}, str(tmp_path / "gen")
    )["examples"]
    flagfile = tmp_path / "poison.flags"
    flagfile.write_text(
        "\n".join(
            [
                f"--examples={examples.uri}",
                "--trigger=point",
                "--rate_percent=25",
                '--label_rule={"kind": "regression_target", "target": [90, 0, 0]}',
                f"--output_dir={tmp_path / 'poison'}",
            ]
        )
        + "\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from poison_tf.components.stages import poison; poison()",
            f"--flagfile={flagfile}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    plan_dir = json.loads(result.stdout)["plan"]
    plan = json.loads(open(os.path.join(plan_dir, "plan.json")).read())
    assert plan["count"] == 5 and len(set(plan["poisoned_ids"])) == 5
