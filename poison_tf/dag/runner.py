"""LocalDagRunner: runs a pipeline's components one after another in this process.

The public contract a runner keeps (a distributed runner keeps the same one):
`run(pipeline)` returns `{component id: {output key: Artifact}}`; each component goes through
`execution.execute_component` (fingerprint cache, atomic outputs, `execution.json`), and each
call is logged with `executions.append` (start, end, node, worker, status), so local and
distributed runs share caches and records under the same pipeline root.
"""

from __future__ import annotations

import os
import time

from poison_tf.dag import executions
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.execution import execute_component
from poison_tf.dag.pipeline import Pipeline


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


class LocalDagRunner:
    """Runs a pipeline's components in topological order in this process.

    Args:
        use_cache: reuse finished executions with the same fingerprint (False reruns all).
    """

    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache

    def run(self, pipeline: Pipeline) -> dict[str, dict[str, Artifact]]:
        """Runs (or reuses) every component of `pipeline`.

        Args:
            pipeline: the DAG and its root folder.

        Returns:
            Component id → output key → its artefact.
        """
        produced: dict[str, dict[str, Artifact]] = {}
        os.makedirs(pipeline.root, exist_ok=True)
        run_id, (node, worker) = executions.new_run_id(), executions.local_identity()
        for component in pipeline.ordered():
            started = time.time()
            record = dict(
                pipeline=pipeline.name, component=component.id, run=run_id, node=node, worker=worker
            )
            try:
                outputs, cached = execute_component(
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
                raise
            produced[component.id] = outputs
            executions.append(
                pipeline.root,
                executions.make_record(
                    **record, start=started, end=time.time(), outputs=outputs,
                    status="cached" if cached else "ok",
                ),
            )  # fmt: skip
        return produced
