"""The stage programs' registry: every component is reachable, documented, and old names still work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from shared_data import REPO_ROOT

from poison_tf.components.stages import ALIASES, STAGES

ALL = sorted({cls for components in STAGES.values() for cls in components.values()}, key=str)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_parameter_has_help(cls):
    # the help text is what --helpfull prints for the generated flag
    assert {n for n, p in cls.SPEC_CLASS.PARAMETERS.items() if not p.help} == set()


def test_aliases_name_existing_components():
    for stage, aliases in ALIASES.items():
        assert set(aliases.values()) <= set(STAGES[stage]), stage
        assert not set(aliases) & set(STAGES[stage]), stage


def test_an_old_component_name_still_runs(tmp_path):
    code = "from poison_tf.components.stages import example_gen; example_gen()"
    argv = [
        "--component=classifier",  # the patch study's example gen, by its earlier name
        "--num_train=8",
        "--num_test=4",
        "--image_size=16",
        f"--output_dir={tmp_path}",
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    examples = json.loads(done.stdout)["examples"]
    assert "/PatchExampleGen/" in examples
