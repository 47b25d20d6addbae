"""Resolving `--strategy=default|mirrored|multi_worker|tpu` into a tf.distribute strategy.

MultiWorkerMirroredStrategy reads the cluster from TF_CONFIG and must be created before any
other TensorFlow op runs ("Collective ops must be configured at program startup"), so programs
call `resolve_strategy` first thing in `main`. `is_chief` decides who writes artefacts.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from poison_tf.errors import UserInputError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
_cache: dict[str, tf.distribute.Strategy] = {}


def resolve_strategy(name: str, devices: list[str] | None = None) -> tf.distribute.Strategy:
    """Returns the strategy named by `--strategy`; one instance per name per process."""
    if name not in STRATEGIES:
        raise UserInputError(f"--strategy={name!r}: choose one of {', '.join(STRATEGIES)}")
    key = f"{name}:{devices}"
    if key in _cache:
        return _cache[key]
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices)
    elif name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserInputError("--strategy=multi_worker needs the TF_CONFIG environment variable")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    _cache[key] = strategy
    return strategy


def task_identity() -> tuple[str | None, int]:
    """(task type, task index) from TF_CONFIG, or (None, 0) when not in a cluster."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    return task.get("type"), int(task.get("index", 0))


def is_chief() -> bool:
    """The chief (or worker 0 when there is no chief) writes checkpoints, logs and artefacts."""
    task_type, task_index = task_identity()
    return task_type in (None, "chief") or (task_type == "worker" and task_index == 0)


def worker_dir(path: str) -> str:
    """Where this worker writes: `path` for the chief, a private temporary folder otherwise."""
    if is_chief():
        return path
    task_type, task_index = task_identity()
    return os.path.join(f"{path}_tmp_{task_type}_{task_index}")
