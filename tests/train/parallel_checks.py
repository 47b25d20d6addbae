"""Checks that a data-parallel run trained ONE model on the union of its replicas' shards.

Shared by the MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy (2 processes)
tests. A run passes only if (a) its strategy reported 2 replicas, (b) at every global step the
replicas trained on disjoint halves whose union is exactly that step's global batch of a
single-process run, and (c) its weights equal a single-process run with the global batch and
differ from a run on one replica's shard alone (which is what replicas that never all-reduce
their gradients would each end with).
"""

from __future__ import annotations

import math
import pathlib
from collections import defaultdict

import numpy as np
import tensorflow as tf
from tiny_task import TinyRegressionTask

from poison_tf.train.loop import TrainerConfig, fit

# Float tolerance for "equal to the single-process run": the all-reduce adds two half-batch
# gradient sums where one process sums 16 rows at once, so the float32 rounding differs (~1e-7
# relative per step); over 32 Adam steps the largest difference measured 1.2e-7 here. One
# replica alone differs by > 1e-2 (asserted), three orders of magnitude above the tolerance.
ATOL = RTOL = 1e-5
ALONE_MIN_DIFFERENCE = 1e-2


def check_shards(task: TinyRegressionTask, steps: list[dict], replicas: int, epochs: int) -> None:
    """(b): every step's replica shards partition that step's global batch."""
    per_epoch = math.ceil(len(task.x) / task.global_batch_size)
    by_step: dict[int, dict[int, list[int]]] = defaultdict(dict)
    for record in steps:
        assert record["replica"] not in by_step[record["iterations"]], "a replica ran a step twice"
        by_step[record["iterations"]][record["replica"]] = record["ids"]
    assert sorted(by_step) == list(range(epochs * per_epoch))
    tf.random.set_seed(TrainerConfig.seed)  # as `fit` does: the shuffle's seed pair uses it
    batches = {
        epoch: [task.example_ids(x[:, 0]) for x, _ in task.build_inputs("train", epoch)]
        for epoch in range(epochs)
    }
    for step, shards in by_step.items():
        assert sorted(shards) == list(range(replicas)), f"step {step}: replicas {sorted(shards)}"
        expected = batches[step // per_epoch][step % per_epoch]
        seen = [shards[r] for r in range(replicas)]
        assert all(len(s) == len(expected) // replicas for s in seen), f"step {step}: {seen}"
        assert not set(seen[0]) & set(seen[1]), f"step {step}: both replicas saw the same data"
        assert sorted(seen[0] + seen[1]) == sorted(expected), f"step {step}: not the global batch"


def reference_weights(tmp: pathlib.Path, epochs: int, shard=None) -> list[np.ndarray]:
    """A single-process (default strategy) run: the global batch, or one shard of it alone."""
    task = TinyRegressionTask(shard=shard)
    config = TrainerConfig(
        model_dir=str(tmp), epochs=epochs, deterministic=True, progress=False, validate=False
    )
    return fit(task, config).get_weights()


def check_weights(weights: list[np.ndarray], tmp: pathlib.Path, epochs: int) -> dict:
    """(c); returns the measured max differences for the test's message / report."""
    single = reference_weights(tmp / "single", epochs)
    for a, b in zip(weights, single):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    measured = {"single": max(float(np.max(np.abs(a - b))) for a, b in zip(weights, single))}
    for index in range(2):
        alone = reference_weights(tmp / f"alone{index}", epochs, shard=(index, 2))
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(weights, alone))
        assert gap > ALONE_MIN_DIFFERENCE, f"weights equal replica {index} training alone"
        measured[f"alone{index}"] = gap
    return measured
