"""The backdoor_benchmark pipeline at a tiny size: the leaderboard, BackdoorBench's rows, bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from pipeline_cli import exits_2_with_one_error, run_into

TINY = [
    "--pipeline=backdoor_benchmark",
    "--preset=demo",
    "--num_train=200",
    "--num_test=80",
    "--epochs=1",
    "--attacks=badnet,sig",
    "--defences=spectral,nc",
    "--rates=10",
]


@pytest.mark.slow
def test_tiny_run_writes_the_leaderboard_beside_backdoorbench(tmp_path):
    out = run_into(tmp_path, TINY)
    board = pd.read_csv(out / "leaderboard.csv")
    assert list(board[["attack", "defence"]].itertuples(index=False, name=None)) == [
        ("badnet", "none"),
        ("badnet", "spectral"),
        ("badnet", "nc"),
        ("sig", "none"),
        ("sig", "spectral"),
        ("sig", "nc"),
    ]
    ours = board[["C-Acc", "ASR", "RA"]]
    assert ((ours >= 0) & (ours <= 100)).all().all()
    none = board[(board.attack == "badnet") & (board.defence == "none")].iloc[0]
    assert (none["BB C-Acc"], none["BB ASR"], none["BB RA"]) == (91.32, 95.03, 4.67)
    assert board.loc[board.defence != "none", "DER"].between(0, 100).all()
    report = (out / "report.md").read_text()
    assert "Training-set filters against the plan's ground truth" in report
    assert "Neural Cleanse detection" in report
    assert (out / "nc_trigger_badnet_10.png").is_file()


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--attacks=trojannn", "unknown attack 'trojannn'"),
        ("--defences=fine_tune", "unknown defence 'fine_tune'"),
        ("--rates=0", "--rates: a poison rate must be in (0, 100]"),
        ("--rates=150", "--rates: a poison rate must be in (0, 100]"),
    ],
)
def test_bad_flags_exit_2_with_one_error_line(tmp_path, capsys, flag, message):
    argv = [*TINY, flag, f"--output_dir={tmp_path / 'bad'}"]
    assert exits_2_with_one_error(argv, capsys, message)
    assert not (tmp_path / "bad" / "report.md").exists()
