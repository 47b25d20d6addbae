"""BaseExecutor (`Do(input_dict, output_dict, exec_properties)`) and its ExecutorContext."""

from __future__ import annotations

import dataclasses
from typing import Any

from poison_tf.dag.artifact import Artifact


@dataclasses.dataclass(frozen=True)
class ExecutorContext:
    """What the runner gives an executor besides its artefacts (TFX's `BaseExecutor.Context`).

    Args:
        work_dir: a folder stable for one execution fingerprint that survives a crash (a
            trainer keeps its checkpoints there, so a killed run resumes); the runner removes
            it once the execution succeeds. Created on demand by the executor.
    """

    work_dir: str


class BaseExecutor:
    """Executors read input artefacts, write into the (temporary) output URIs, return nothing.

    Args:
        context: set by the runner; None when an executor is called directly (a test), in which
            case `work_dir` raises.
    """

    def __init__(self, context: ExecutorContext | None = None):
        self.context = context

    @property
    def work_dir(self) -> str:
        """The execution's crash-surviving scratch folder (see `ExecutorContext`)."""
        if self.context is None:
            raise RuntimeError(f"{type(self).__name__}: no ExecutorContext (run it via a runner)")
        return self.context.work_dir

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
