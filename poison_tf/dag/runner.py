"""LocalDagRunner: runs a pipeline's components one after another in this process.

The public contract a runner keeps (a distributed runner keeps the same one):
`run(pipeline)` returns `{component id: {output key: Artifact}}`; each component goes through
`execution.execute_component` (fingerprint cache, atomic outputs, `execution.json`), and each
call is logged with `lineage.append_run_log`, so local and distributed runs share caches and
records under the same pipeline root.
"""

from __future__ import annotations

import os
import time

from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.execution import execute_component
from poison_tf.dag.lineage import append_run_log
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
        for component in pipeline.ordered():
            started = time.time()
            outputs, cached = execute_component(
                component, resolve_inputs(component, produced), pipeline.root, self.use_cache
            )
            produced[component.id] = outputs
            append_run_log(
                pipeline.root, pipeline.name, component.id, cached, time.time() - started, outputs
            )
        return produced
