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
        """Components in a topological order (stable with respect to the given order).

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
            ready = [c for c in pending if all(u in done for u in c.upstream_ids())]
            if not ready:
                missing = {u for c in pending for u in c.upstream_ids() if u not in by_id}
                raise ValueError(f"pipeline {self.name}: cycle or unknown producers {missing}")
            for component in ready:
                order.append(component)
                done.add(component.id)
                pending.remove(component)
        return order
