"""Lineage: the record of one execution (`execution.json`) and the run log (`executions.jsonl`).

`execution.json` sits in each finished execution folder (inputs, parameters, outputs, timings,
versions): a cache hit is exactly a folder that has one. The run log `<root>/executions.jsonl`
(every component of every run, cached or not) is written by `poison_tf.dag.executions`, which
both runners use, so the records stay one format.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from poison_tf.io.atomic import read_json, write_json

EXECUTION_FILE = "execution.json"
LOG_FILE = "executions.jsonl"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("poison_tf", "tensorflow", "keras", "keras-cv"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # safe: lineage only, omits what is not installed
            pass
    return found


def write_execution_record(folder: str, record: dict[str, Any]) -> None:
    """Writes `record` (plus host and package versions) as `<folder>/execution.json`.

    Args:
        folder: the execution folder (still the temporary one: it is renamed afterwards).
        record: component, class, version, fingerprint, exec_properties, inputs, outputs, timings.
    """
    write_json(
        os.path.join(folder, EXECUTION_FILE),
        record | {"host": platform.node(), "versions": _versions()},
    )


def has_execution_record(folder: str) -> bool:
    """Whether `folder` is a finished execution (the cache test)."""
    return os.path.isfile(os.path.join(folder, EXECUTION_FILE))


def load_execution(folder: str) -> dict:
    """Reads the lineage record of one execution folder."""
    return read_json(os.path.join(folder, EXECUTION_FILE))
