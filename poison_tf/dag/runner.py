"""LocalDagRunner: runs a pipeline's components one after another in this process.

A failed component fails only its downstream branch; the run ends in `PipelineFailed` naming
it, and `report_failure` turns that into `error:` lines and exit status 1 (both shared with the
Ray runner).

The public contract a runner keeps (a distributed runner keeps the same one):
`run(pipeline)` returns `{component id: {output key: Artifact}}`; each component goes through
`staging.execute_staged` (fingerprint cache, atomic outputs, `execution.json`; at a URI root
through a local mirror), and each call is logged with `executions.append` (start, end, node,
worker, status), so local and distributed runs share caches and records under the same root.
"""

from __future__ import annotations

import time

from absl import logging

from poison_tf.dag import executions, staging
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.pipeline import Pipeline
from poison_tf.errors import UserInputError


def resolve_inputs(
    component: BaseComponent, produced: dict[str, dict[str, Artifact]]
) -> dict[str, list[Artifact]]:
    """The input artefacts of `component` from the outputs of its (finished) upstream ones.

    Args:
        component: a component whose upstream components are all in `produced`.
        produced: component id → output key → artefact.

    Returns:
        Input key → artefacts, in the order the channels were given.
    """
    return {
        key: [produced[c.producer_id][c.key] for c in channels]
        for key, channels in component.inputs.items()
    }


class PipelineFailed(RuntimeError):
    """Some components failed; `failures` maps each failed component id to its error."""

    def __init__(self, pipeline: str, failures: dict[str, str], skipped: list[str]):
        self.failures, self.skipped = failures, skipped
        lines = [f"{cid}: {error}" for cid, error in failures.items()]
        super().__init__(
            f"pipeline {pipeline}: {len(failures)} component(s) failed, {len(skipped)} "
            "downstream not run; " + "; ".join(lines)
        )


def report_failure(failed: PipelineFailed) -> None:
    """Prints one `error:` line per failed component (and what was not run), then exits 1."""
    import sys

    for component, error in failed.failures.items():
        sys.stderr.write(f"error: {component} failed: {error}\n")
    if failed.skipped:
        sys.stderr.write(
            f"error: not run because of it: {', '.join(failed.skipped)}; the other branches "
            "finished, and running the same command again resumes from there\n"
        )
    sys.exit(1)


class LocalDagRunner:
    """Runs a pipeline's components in topological order in this process.

    Args:
        use_cache: reuse finished executions with the same fingerprint (False reruns all).
    """

    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache

    def run(self, pipeline: Pipeline) -> dict[str, dict[str, Artifact]]:
        """Runs (or reuses) every component of `pipeline`.

        A component that fails fails only its downstream branch: the components that need its
        outputs are recorded as `upstream_failed` and not run, every other one still runs (a
        sweep's other trainings finish), and the run then raises `PipelineFailed` naming it, as
        the Ray runner does. Bad input (`UserInputError`) stops the run at once: it is the
        user's to fix, not a branch's.

        Args:
            pipeline: the DAG and its root (a local folder or a `tf.io.gfile` URI: see `staging`).

        Returns:
            Component id → output key → its artefact.

        Raises:
            PipelineFailed: at the end, when a component failed.
            UserInputError: a component rejected its input.
        """
        produced: dict[str, dict[str, Artifact]] = {}
        failures: dict[str, str] = {}
        skipped: list[str] = []
        staging.make_root(pipeline.root)
        run_id, (node, worker) = executions.new_run_id(), executions.local_identity()
        for component in pipeline.ordered():
            started = time.time()
            record = dict(
                pipeline=pipeline.name, component=component.id, run=run_id, node=node, worker=worker
            )
            if any(u in failures or u in skipped for u in component.upstream_ids()):
                skipped.append(component.id)
                executions.append(
                    pipeline.root,
                    executions.make_record(
                        **record, start=started, end=started, status="upstream_failed"
                    ),
                )
                continue
            try:
                outputs, cached = staging.execute_staged(
                    component, resolve_inputs(component, produced), pipeline.root, self.use_cache
                )
            except Exception as error:
                executions.append(
                    pipeline.root,
                    executions.make_record(
                        **record, start=started, end=time.time(), status="failed",
                        error=f"{type(error).__name__}: {error}",
                    ),
                )  # fmt: skip
                if isinstance(error, UserInputError):
                    raise
                logging.exception("%s failed", component.id)
                failures[component.id] = f"{type(error).__name__}: {error}"
                continue
            produced[component.id] = outputs
            executions.append(
                pipeline.root,
                executions.make_record(
                    **record, start=started, end=time.time(),
                    outputs=outputs,
                    status="cached" if cached else "ok",
                ),
            )  # fmt: skip
        if failures:
            raise PipelineFailed(pipeline.name, failures, skipped)
        return produced
