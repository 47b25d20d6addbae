"""Pipeline and LocalDagRunner: topological order, fingerprint cache, atomic outputs, lineage.

Each execution writes into `<root>/<component id>/.<fp>.tmp-*` and is renamed to
`<root>/<component id>/<fp>/` only when its executor returns, so a crash never leaves a half
artefact marked complete, and re-running the pipeline after a crash skips what finished.
`execution.json` in each execution folder is the lineage record (inputs, parameters, outputs,
timings, versions); `<root>/executions.jsonl` logs every run, cached or not.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata

from absl import logging

from poison_tf.components.artifact import Artifact
from poison_tf.components.base import BaseComponent
from poison_tf.components.fingerprint import fingerprint, path_stamp
from poison_tf.io.atomic import read_json, write_json

EXECUTION_FILE = "execution.json"
# exec_properties key of a folder that survives a crashed execution (checkpoints of a trainer),
# stable for a given fingerprint and removed once the execution succeeds.
WORK_DIR_KEY = "__work_dir__"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("poison_tf", "tensorflow", "keras", "keras-cv"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # safe: lineage only, omits what is not installed
            pass
    return found


def execution_fingerprint(component: BaseComponent, inputs: dict[str, list[Artifact]]) -> str:
    spec = component.SPEC_CLASS
    params = {}
    for name, value in component.exec_properties.items():
        if spec.PARAMETERS[name].is_path and value:
            params[name] = [value, path_stamp(value)]
        else:
            params[name] = value
    cls = type(component)
    return fingerprint(
        {
            "component": f"{cls.__module__}.{cls.__qualname__}",
            "version": cls.VERSION,
            "parameters": params,
            "inputs": {
                key: [a.fingerprint for a in group] for key, group in sorted(inputs.items())
            },
        }
    )


def _load_outputs(component: BaseComponent, folder: str) -> dict[str, Artifact]:
    return {
        key: Artifact.load(os.path.join(folder, key), channel.type_name)
        for key, channel in component.SPEC_CLASS.OUTPUTS.items()
    }


def execute_component(
    component: BaseComponent,
    inputs: dict[str, list[Artifact]],
    root: str,
    use_cache: bool = True,
) -> tuple[dict[str, Artifact], bool]:
    """Runs (or reuses) one component; returns its output artefacts and whether it was cached."""
    fp = execution_fingerprint(component, inputs)
    home = os.path.join(root, component.id)
    final = os.path.join(home, fp[:16])
    if use_cache and os.path.isfile(os.path.join(final, EXECUTION_FILE)):
        logging.info("%s: cached (%s)", component.id, final)
        return _load_outputs(component, final), True

    os.makedirs(home, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{fp[:16]}.tmp-", dir=home)
    outputs = {
        key: Artifact(channel.type_name, os.path.join(tmp, key), fingerprint=f"{fp}:{key}")
        for key, channel in component.SPEC_CLASS.OUTPUTS.items()
    }
    for artifact in outputs.values():
        os.makedirs(artifact.uri)
    started = time.time()
    logging.info("%s: running", component.id)
    work_dir = os.path.join(home, ".work", fp[:16])
    try:
        component.EXECUTOR_CLASS().Do(
            {key: list(group) for key, group in inputs.items()},
            {key: [artifact] for key, artifact in outputs.items()},
            dict(component.exec_properties, **{WORK_DIR_KEY: work_dir}),
        )
        for artifact in outputs.values():
            artifact.save_metadata()
        write_json(
            os.path.join(tmp, EXECUTION_FILE),
            {
                "component": component.id,
                "class": f"{type(component).__module__}.{type(component).__qualname__}",
                "version": type(component).VERSION,
                "fingerprint": fp,
                "exec_properties": component.exec_properties,
                "inputs": {
                    k: [{"uri": a.uri, "fingerprint": a.fingerprint} for a in group]
                    for k, group in inputs.items()
                },
                "outputs": {
                    k: dataclasses.asdict(a) | {"uri": os.path.join(final, k)}
                    for k, a in outputs.items()
                },
                "started": started,
                "duration_s": round(time.time() - started, 3),
                "host": platform.node(),
                "versions": _versions(),
            },
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isdir(final):  # an older, incomplete copy (no execution.json) is replaced
        shutil.rmtree(final)
    os.replace(tmp, final)
    shutil.rmtree(work_dir, ignore_errors=True)
    return _load_outputs(component, final), False


@dataclasses.dataclass
class Pipeline:
    """A named DAG of components whose artefacts live under `root`."""

    name: str
    components: list[BaseComponent]
    root: str

    def ordered(self) -> list[BaseComponent]:
        """Components in a topological order (stable with respect to the given order)."""
        by_id = {c.id: c for c in self.components}
        if len(by_id) != len(self.components):
            raise ValueError(f"pipeline {self.name}: duplicate component ids")
        done: set[str] = set()
        order: list[BaseComponent] = []
        pending = list(self.components)
        while pending:
            ready = [c for c in pending if all(u in done for u in c.upstream_ids())]
            if not ready:
                missing = {u for c in pending for u in c.upstream_ids() if u not in by_id}
                raise ValueError(f"pipeline {self.name}: cycle or unknown producers {missing}")
            for component in ready:
                order.append(component)
                done.add(component.id)
                pending.remove(component)
        return order


class LocalDagRunner:
    """Runs a pipeline's components in order in this process, reusing cached executions."""

    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache

    def run(self, pipeline: Pipeline) -> dict[str, dict[str, Artifact]]:
        produced: dict[str, dict[str, Artifact]] = {}
        os.makedirs(pipeline.root, exist_ok=True)
        log_path = os.path.join(pipeline.root, "executions.jsonl")
        for component in pipeline.ordered():
            inputs = {
                key: [produced[c.producer_id][c.key] for c in channels]
                for key, channels in component.inputs.items()
            }
            started = time.time()
            outputs, cached = execute_component(component, inputs, pipeline.root, self.use_cache)
            produced[component.id] = outputs
            with open(log_path, "a") as log:
                log.write(
                    json.dumps(
                        {
                            "pipeline": pipeline.name,
                            "component": component.id,
                            "cached": cached,
                            "seconds": round(time.time() - started, 3),
                            "outputs": {k: a.uri for k, a in outputs.items()},
                        }
                    )
                    + "\n"
                )
        return produced


def load_execution(folder: str) -> dict:
    """Reads the lineage record of one execution folder."""
    return read_json(os.path.join(folder, EXECUTION_FILE))
