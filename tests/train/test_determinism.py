"""`--deterministic`: the same training command in two fresh processes gives bit-identical
weights, and a different `--seed` gives different ones.

Each run is `poison-tf-train --component=regressor` (the stage program, as a user runs it) on a
small head-pose artefact with a poison plan: ResNet18 convolutions, batch-norm reductions, the
shuffled and poisoned tf.data pipeline, Adam. Fresh processes matter: cached reruns in one
process reuse state that a new machine does not have.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
from poison_tf.dag.artifact import Artifact
from poison_tf.data.synthetic_heads import render_heads
from poison_tf.poison import label_rules, selection, triggers
from poison_tf.poison.plan import PoisonPlan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = "from poison_tf.components.stages import train; train()"


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("determinism")
    examples = folder / "examples"
    examples.mkdir()
    write_headpose_examples(str(examples), render_heads(48, 32, 3), render_heads(8, 32, 4), "t", 2)
    plan_dir = folder / "plan"
    plan_dir.mkdir()
    ids = selection.select_examples(48, 0.25, seed=1)
    plan = PoisonPlan(
        triggers.checkerboard(4, 2), label_rules.regression_target((90, 0, 0)), ids, 48, 0.25, 1
    )
    plan.save(str(plan_dir / "plan.json"))
    Artifact("Examples", str(examples), fingerprint="examples").save_metadata()
    Artifact("PoisonPlan", str(plan_dir), fingerprint="plan").save_metadata()
    return folder


def train(folder, name: str, *flags: str) -> list[np.ndarray]:
    """Runs the stage in a fresh Python process; returns the trained model's weights."""
    out = folder / name
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            TRAIN,
            "--component=regressor",
            f"--examples={folder / 'examples'}",
            f"--plan={folder / 'plan'}",
            f"--output_dir={out}",
            "--width=0.25",
            "--epochs=1",
            "--global_batch_size=16",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    model_dir = json.loads(result.stdout)["model"]
    model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    return model.get_weights()


@pytest.mark.slow
def test_two_fresh_processes_give_bit_identical_weights_and_seed_changes_them(artefacts):
    first = train(artefacts, "a", "--deterministic", "--seed=5")
    second = train(artefacts, "b", "--deterministic", "--seed=5")
    assert len(first) == len(second) > 20
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    other = train(artefacts, "c", "--deterministic", "--seed=6")
    changed = [not np.array_equal(a, c) for a, c in zip(first, other, strict=True)]
    assert sum(changed) > len(changed) // 2


def test_enable_determinism_fixes_threads_in_a_fresh_process():
    code = (
        "from poison_tf.train.determinism import enable_determinism, determinism_enabled;"
        "import tensorflow as tf;"
        "assert enable_determinism(3);"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads(), determinism_enabled())"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["2", "2", "True"]
