"""Lineage: the record of one execution (`execution.json`) and the run log (`executions.jsonl`).

`execution.json` sits in each finished execution folder (inputs, parameters, outputs, timings,
versions): a cache hit is exactly a folder that has one. `<root>/executions.jsonl` logs every
component run of every pipeline run, cached or not, one JSON line each. Any runner (local or
distributed) writes both through these functions so the records stay one format.
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from typing import Any

from poison_tf.dag.artifact import Artifact
from poison_tf.io.atomic import read_json, write_json

EXECUTION_FILE = "execution.json"
LOG_FILE = "executions.jsonl"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("poison_tf", "tensorflow", "keras", "keras-cv"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
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


def append_run_log(
    root: str,
    pipeline: str,
    component_id: str,
    cached: bool,
    seconds: float,
    outputs: dict[str, Artifact],
) -> None:
    """Appends one line to `<root>/executions.jsonl`.

    Args:
        root: the pipeline root.
        pipeline: the pipeline's name.
        component_id: the component that ran.
        cached: whether its outputs came from the cache.
        seconds: wall time of the call.
        outputs: its output artefacts (their URIs are logged).
    """
    with open(os.path.join(root, LOG_FILE), "a") as log:
        log.write(
            json.dumps(
                {
                    "pipeline": pipeline,
                    "component": component_id,
                    "cached": cached,
                    "seconds": round(seconds, 3),
                    "outputs": {k: a.uri for k, a in outputs.items()},
                }
            )
            + "\n"
        )
