"""BaseExecutor (`Do(input_dict, output_dict, exec_properties)`) and its ExecutorContext."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from poison_tf.dag.artifact import Artifact


@dataclasses.dataclass(frozen=True)
class ExecutorContext:
    """What the runner gives an executor besides its artefacts (TFX's `BaseExecutor.Context`).

    Args:
        work_dir: a folder stable for one execution fingerprint that survives a crash (a
            trainer keeps its checkpoints there, so a killed run resumes); the runner removes
            it once the execution succeeds. Created on demand by the executor.
        on_work_saved: what `work_saved()` runs (set by the runner; None: nothing to do).

    Why the executor says when, rather than the runner watching the folder: only the executor
    knows when `work_dir` is consistent (a checkpoint complete, the logs that go with it
    written). A watcher would copy half-written or just-deleted checkpoint files, and a copy
    made only at the end would be useless, since the point is to survive a kill.
    """

    work_dir: str
    on_work_saved: Callable[[], None] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    def work_saved(self) -> None:
        """Tells the runner that `work_dir` now holds a complete state to resume from (call it
        right after a checkpoint is written). With a local root it does nothing (the folder is
        where every retry looks); with a URI root the runner copies what changed in it to the
        URI, so a retry on another node resumes from it (`poison_tf.dag.work_sync`)."""
        if self.on_work_saved is not None:
            self.on_work_saved()


class BaseExecutor:
    """Executors read input artefacts, write into the (temporary) output URIs, return nothing.

    Args:
        context: set by the runner; None when an executor is called directly (a test), in which
            case `work_dir` raises and `work_saved` does nothing.
    """

    def __init__(self, context: ExecutorContext | None = None):
        self.context = context

    @property
    def work_dir(self) -> str:
        """The execution's crash-surviving scratch folder (see `ExecutorContext`)."""
        if self.context is None:
            raise RuntimeError(f"{type(self).__name__}: no ExecutorContext (run it via a runner)")
        return self.context.work_dir

    def work_saved(self) -> None:
        """`ExecutorContext.work_saved`: `work_dir` holds a complete checkpoint now."""
        if self.context is not None:
            self.context.work_saved()

    def Do(  # noqa: N802 (TFX's name)
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Runs the component.

        Args:
            input_dict: input key → the upstream artefacts (a list: a key may take several).
            output_dict: output key → [the artefact to write], its folder already created.
            exec_properties: the resolved parameters of the spec.
        """
        raise NotImplementedError
