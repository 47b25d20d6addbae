"""Pipeline: a named DAG of components whose artefacts live under one root folder."""

from __future__ import annotations

import dataclasses

from poison_tf.dag.component import BaseComponent


@dataclasses.dataclass
class Pipeline:
    """A named DAG of components whose artefacts live under `root`.

    Args:
        name: logged with every execution.
        components: every component of the DAG, in any order (edges come from their inputs).
        root: the folder that receives `<component id>/<fingerprint>/` and the run log.
    """

    name: str
    components: list[BaseComponent]
    root: str

    def ordered(self) -> list[BaseComponent]:
        """Components in a topological order: each step runs the first one, in the given order,
        whose inputs are ready.

        So a pipeline runs in the order it was written wherever the DAG allows it: a study lists
        its sweep before its extra seeds, and an interrupted run has finished the sweep's first
        rows rather than one component of every row.

        Raises:
            ValueError: duplicate ids, a cycle, or an input from a component not in the DAG.
        """
        by_id = {c.id: c for c in self.components}
        if len(by_id) != len(self.components):
            raise ValueError(f"pipeline {self.name}: duplicate component ids")
        done: set[str] = set()
        order: list[BaseComponent] = []
        pending = list(self.components)
        while pending:
            ready = next((c for c in pending if all(u in done for u in c.upstream_ids())), None)
            if ready is None:
                missing = {u for c in pending for u in c.upstream_ids() if u not in by_id}
                raise ValueError(f"pipeline {self.name}: cycle or unknown producers {missing}")
            order.append(ready)
            done.add(ready.id)
            pending.remove(ready)
        return order
