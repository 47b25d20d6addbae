"""Bit-identical trainings: the same command on any machine of the same kind, the same weights.

Three things make a fresh CPU run differ from the last one even with every seed given:
- seeds that are not fixed (Python's `random`, NumPy's global state, TensorFlow's global seed,
  which Keras initialisers and dropout draw from);
- ops whose kernels may sum in a different order from run to run (TF op determinism makes them
  either deterministic or raise);
- the thread counts: Eigen and oneDNN split a reduction into as many blocks as the intra-op
  pool has threads, so the rounding of a sum depends on `os.cpu_count()` unless fixed.

`enable_determinism` fixes all three; the thread counts can only be set before TensorFlow runs
its first op, so programs call it first thing in `main` (`pipelines/main.py`, the stage
programs) and `fit` calls it again (seeds, op determinism) when a Task trains deterministically.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from absl import logging

# The project's reference machine has 2 cores; fixing the pools (not deriving them from the
# machine) is what makes a 16-core run add in the same order as a 2-core one.
INTRA_OP_THREADS = 2
INTER_OP_THREADS = 2


def set_thread_counts(intra_op: int = INTRA_OP_THREADS, inter_op: int = INTER_OP_THREADS) -> bool:
    """Fixes TF's intra- and inter-op thread pools; False if TF already started with others.

    Args:
        intra_op: threads inside one op (the ones that change a reduction's order).
        inter_op: ops run at once.

    Returns:
        True when the pools now have these sizes.
    """
    threading = tf.config.threading
    if (
        threading.get_intra_op_parallelism_threads() == intra_op
        and threading.get_inter_op_parallelism_threads() == inter_op
    ):
        return True
    try:
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # "cannot be modified after initialization"
        logging.warning(
            "determinism: TensorFlow already runs with %d intra-op / %d inter-op threads; "
            "call enable_determinism before any TensorFlow op to fix them at %d / %d",
            threading.get_intra_op_parallelism_threads(),
            threading.get_inter_op_parallelism_threads(),
            intra_op,
            inter_op,
        )
        return False
    return True


def enable_determinism(
    seed: int | None = None,
    intra_op: int = INTRA_OP_THREADS,
    inter_op: int = INTER_OP_THREADS,
) -> bool:
    """Turns on TF op determinism, fixes the thread pools and (if given) every seed.

    Op determinism cannot be turned off again in the same process; a program decides once.

    Args:
        seed: seeds Python `random`, NumPy and TensorFlow (`keras.utils.set_random_seed`).
        intra_op: intra-op threads (see `set_thread_counts`).
        inter_op: inter-op threads.

    Returns:
        Whether the thread pools could be fixed (False: TF had started already; the run is then
        reproducible on this machine only).
    """
    fixed = set_thread_counts(intra_op, inter_op)
    tf.config.experimental.enable_op_determinism()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return fixed


def determinism_enabled() -> bool:
    """Whether TF op determinism is on in this process (TF has no public getter)."""
    from tensorflow.python.framework import config  # noqa: PLC0415

    return bool(config.is_op_determinism_enabled())
