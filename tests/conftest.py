"""Shared pytest set-up: two logical CPU devices, paths to ../shared, and skip rules.

The two logical CPUs must be configured before any TensorFlow op runs, which is why it
happens here at import time: MirroredStrategy tests then get `/cpu:0` and `/cpu:1`.
"""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # already initialised by an earlier import; tests needing 2 devices skip
    pass

from shared_data import REPO_ROOT, SHARED, shared_path  # noqa: E402,F401 (re-exported)


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    """../shared beside the checkout; tests that need it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(scope="session")
def two_cpu_strategy() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over /cpu:0 and /cpu:1 for the whole session.

    Every MirroredStrategy instance numbers its collective ops from the same start, so two
    instances in one process clash ("Collective instance 100 expected type 2 ... got type 0");
    the tests share this one (resolve_strategy caches it by its devices).
    """
    if len(tf.config.list_logical_devices("CPU")) < 2:
        pytest.skip("two logical CPU devices were not configured")
    from poison_tf.train.strategy import resolve_strategy

    return resolve_strategy("mirrored", ["/cpu:0", "/cpu:1"])


def pytest_collection_modifyitems(config, items):
    if tf.config.list_physical_devices("GPU"):
        return
    skip_gpu = pytest.mark.skip(reason="no GPU visible")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
