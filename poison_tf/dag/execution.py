"""One execution of one component: fingerprint, cache lookup, atomic outputs, lineage.

Each execution writes into `<root>/<component id>/.<fp>.tmp-*` and is renamed to
`<root>/<component id>/<fp>/` only when its executor returns, so a crash never leaves a half
artefact marked complete, and re-running after a crash skips what finished. This is the unit a
runner schedules: `LocalDagRunner` calls `execute_component` in topological order in one
process; a distributed runner calls it once per component on a worker that sees `root`.

The component is duck-typed (`id`, `SPEC_CLASS`, `EXECUTOR_CLASS`, `VERSION`,
`exec_properties`), so this module does not import `component.py` (which imports it for
`run_standalone`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from absl import logging

from poison_tf.dag.artifact import Artifact
from poison_tf.dag.executor import ExecutorContext
from poison_tf.dag.fingerprint import fingerprint, parameter_stamp
from poison_tf.dag.lineage import has_execution_record, write_execution_record

if TYPE_CHECKING:  # type hints only: component.py imports this module
    from poison_tf.dag.component import BaseComponent

WORK_FOLDER = ".work"


def _class_path(component: BaseComponent) -> str:
    cls = type(component)
    return f"{cls.__module__}.{cls.__qualname__}"


def execution_fingerprint(component: BaseComponent, inputs: dict[str, list[Artifact]]) -> str:
    """The cache key of running `component` on `inputs`.

    Args:
        component: the component (its class, VERSION and parameters join the key; `is_path`
            parameters join with the stamp of the files they name).
        inputs: input key → artefacts (their fingerprints join the key).

    Returns:
        A sha256 hex digest; its first 16 characters name the execution folder.
    """
    spec = component.SPEC_CLASS
    params = {}
    for name, value in component.exec_properties.items():
        parameter = spec.PARAMETERS[name]
        if parameter.is_path and value:
            params[name] = [value, parameter_stamp(value, parameter)]
        else:
            params[name] = value
    return fingerprint(
        {
            "component": _class_path(component),
            "version": type(component).VERSION,
            "parameters": params,
            "inputs": {
                key: [a.fingerprint for a in group] for key, group in sorted(inputs.items())
            },
        }
    )


def execution_folder(root: str, component: BaseComponent, fp: str) -> str:
    """`<root>/<component id>/<fp[:16]>`: where a finished execution lives."""
    return os.path.join(root, component.id, fp[:16])


def work_folder(root: str, component: BaseComponent, fp: str) -> str:
    """`<root>/<component id>/.work/<fp[:16]>`: the execution's `work_dir` (checkpoints)."""
    return os.path.join(root, component.id, WORK_FOLDER, fp[:16])


def load_outputs(component: BaseComponent, folder: str) -> dict[str, Artifact]:
    """The output artefacts of the finished execution in `folder`."""
    return {
        key: Artifact.load(os.path.join(folder, key), channel.type_name)
        for key, channel in component.SPEC_CLASS.OUTPUTS.items()
    }


def execute_component(
    component: BaseComponent,
    inputs: dict[str, list[Artifact]],
    root: str,
    use_cache: bool = True,
    on_work_saved: Callable[[], None] | None = None,
) -> tuple[dict[str, Artifact], bool]:
    """Runs (or reuses) one component.

    Args:
        component: the component, its parameters resolved.
        inputs: input key → the upstream artefacts (finished ones: loaded or just produced).
        root: the pipeline root (every worker must see the same folder).
        use_cache: reuse a finished execution with the same fingerprint.
        on_work_saved: run each time the executor says its `work_dir` holds a complete
            checkpoint (`ExecutorContext.work_saved`); `staging` copies it to a URI root.

    Returns:
        (output key → artefact, whether the outputs came from the cache).
    """
    fp = execution_fingerprint(component, inputs)
    home = os.path.join(root, component.id)
    final = execution_folder(root, component, fp)
    if use_cache and has_execution_record(final):
        logging.info("%s: cached (%s)", component.id, final)
        return load_outputs(component, final), True

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
    work_dir = work_folder(root, component, fp)
    context = ExecutorContext(work_dir=work_dir, on_work_saved=on_work_saved)
    try:
        component.EXECUTOR_CLASS(context).Do(
            {key: list(group) for key, group in inputs.items()},
            {key: [artifact] for key, artifact in outputs.items()},
            dict(component.exec_properties),
        )
        for artifact in outputs.values():
            artifact.save_metadata()
        write_execution_record(
            tmp,
            {
                "component": component.id,
                "class": _class_path(component),
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
            },
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isdir(final):  # an older, incomplete copy (no execution.json) is replaced
        shutil.rmtree(final)
    os.replace(tmp, final)
    shutil.rmtree(work_dir, ignore_errors=True)
    return load_outputs(component, final), False
