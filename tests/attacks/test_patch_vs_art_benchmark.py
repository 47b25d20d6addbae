"""benchmarks/patch_vs_art.py: exits 0 with a message without ART, and prints a ratio with it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "patch_vs_art.py")
TINY = ["--models=small", "--image_size=16", "--batch_size=4", "--steps=2", "--rounds=1"]
HIDE_ART = (  # the script run as `python benchmarks/patch_vs_art.py` would (its folder on sys.path)
    "import importlib.util as u, os, runpy, sys; find = u.find_spec; "
    "u.find_spec = lambda name, *a: None if name == 'art' else find(name, *a); "
    "sys.argv = sys.argv[1:]; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=os.environ | {"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def test_without_art_it_says_so_and_exits_0():
    done = _run(["-c", HIDE_ART, SCRIPT, *TINY])
    assert done.returncode == 0, done.stderr
    assert "adversarial-robustness-toolbox is not installed" in done.stdout
    assert "RATIO" not in done.stdout


@pytest.mark.skipif(
    importlib.util.find_spec("art") is None, reason="ART (the bench extra) is not installed"
)
def test_with_art_it_prints_both_rates_and_the_ratio():
    done = _run([SCRIPT, *TINY])
    assert done.returncode == 0, done.stderr
    for words in ("ours (EOT)", "ours (plain)", "ART ", "RATIO small ours (EOT)/ART steps/s:"):
        assert words in done.stdout, done.stdout
    moved = float(done.stdout.split("ART's patch moved by up to ")[1].split()[0])
    assert moved > 0  # ART really optimised its patch, so its rate is a real step's rate
