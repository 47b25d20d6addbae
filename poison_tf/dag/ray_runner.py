"""RayDagRunner: the same DAG, cache and artefacts as the local runner, components as Ray tasks.

Every component whose inputs are ready is submitted at once, so the independent branches of a
sweep (one trainer per trigger × rate) run side by side on whatever the cluster offers. The
driver keeps the bookkeeping the local runner does in-process: it resolves cached executions
itself (a cached rerun submits nothing), passes artefacts (paths or URIs, never data) to the tasks,
appends every outcome to `executions.jsonl`, and when a component fails it fails only the
components downstream of it, lets the rest finish, then raises `PipelineFailed` naming it.

A pipeline root at a `tf.io.gfile` URI works the same way: the driver looks the cache up at
the URI, and each task downloads its inputs into its node's mirror, runs there and uploads the
finished execution (`staging.execute_staged`), so the nodes share only the URI. A set
`$POISON_TF_STAGING_DIR` is passed on to every task.

Heavy components (those that train: a `strategy` parameter, or `HEAVY = True` on the class) ask
for the GPU / CPU share of `--gpus_per_task` / `--cpus_per_task`; the rest ask for one CPU.
A heavy task with GPUs gets a fresh worker process (`max_calls=1`) so that TensorFlow's GPU
memory goes back to the node when it ends; Ray sets CUDA_VISIBLE_DEVICES to the GPUs it chose,
so `--strategy=mirrored` spreads over exactly those.
"""

from __future__ import annotations

import os
import time
from typing import Any

from absl import logging

from poison_tf.dag import executions, staging
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.pipeline import Pipeline
from poison_tf.dag.ray_task import run_component, thread_env
from poison_tf.dag.runner import PipelineFailed, report_failure, resolve_inputs  # noqa: F401 (re-exported)


def is_heavy(component: BaseComponent) -> bool:
    """Whether the component gets the per-task GPU/CPU share: `HEAVY` on its class if set,
    else whether it trains (its spec takes a `strategy`)."""
    explicit = getattr(type(component), "HEAVY", None)
    if explicit is not None:
        return bool(explicit)
    return "strategy" in component.SPEC_CLASS.PARAMETERS


class RayDagRunner:
    """Runs a pipeline's components as Ray tasks (Ray must be initialised: see ray_cluster).

    Args:
        use_cache: reuse finished executions with the same fingerprint.
        gpus_per_task: GPUs a heavy component asks for.
        cpus_per_task: CPUs a heavy component asks for (its TF thread share).
        max_retries: how often Ray reruns a task whose worker died.
    """

    def __init__(
        self,
        use_cache: bool = True,
        gpus_per_task: float = 0.0,
        cpus_per_task: float = 1.0,
        max_retries: int = 3,
    ):
        import ray

        self.use_cache = use_cache
        self.gpus, self.cpus, self.max_retries = gpus_per_task, cpus_per_task, max_retries
        self._remote = ray.remote(run_component)

    def _options(self, component: BaseComponent) -> dict[str, Any]:
        options: dict[str, Any] = {"name": component.id, "max_retries": self.max_retries}
        if not is_heavy(component):
            return options | {"num_cpus": min(1.0, self.cpus), "num_gpus": 0}
        env = thread_env(self.cpus)
        if 0 < self.gpus < 1:  # tasks share a GPU: TF must not reserve all its memory up front
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        options |= {"num_cpus": self.cpus, "num_gpus": self.gpus, "runtime_env": {"env_vars": env}}
        if self.gpus:
            options["max_calls"] = 1
        return options

    def run(self, pipeline: Pipeline) -> dict[str, dict[str, Artifact]]:
        """Runs the DAG; returns {component id: outputs}, or raises PipelineFailed at the end."""
        import ray

        root = pipeline.root if staging.is_uri(pipeline.root) else os.path.abspath(pipeline.root)
        staging.make_root(root)
        run_id = executions.new_run_id()
        base = {"pipeline": pipeline.name, "run": run_id}
        node, worker = executions.local_identity()
        produced: dict[str, dict[str, Artifact]] = {}
        failures: dict[str, str] = {}
        skipped: list[str] = []
        waiting = list(pipeline.ordered())
        pending: dict[Any, tuple[BaseComponent, float]] = {}
        try:
            while waiting or pending:
                changed = True
                while changed:  # submit (or take from the cache) everything that is ready
                    changed = False
                    for component in list(waiting):
                        upstream = component.upstream_ids()
                        if any(u in failures or u in skipped for u in upstream):
                            waiting.remove(component)
                            skipped.append(component.id)
                            now = time.time()
                            executions.append(
                                root,
                                executions.make_record(
                                    **base, component=component.id, start=now, end=now,
                                    status="upstream_failed", node=node, worker=worker,
                                ),
                            )  # fmt: skip
                            changed = True
                            continue
                        if not all(u in produced for u in upstream):
                            continue
                        waiting.remove(component)
                        changed = True
                        inputs = resolve_inputs(component, produced)
                        started = time.time()
                        found = (
                            staging.cached_outputs(component, inputs, root)
                            if self.use_cache
                            else None
                        )
                        if found is not None:
                            produced[component.id] = found
                            executions.append(
                                root,
                                executions.make_record(
                                    **base, component=component.id, start=started,
                                    end=time.time(), status="cached", node=node, worker=worker,
                                    outputs=found,
                                ),
                            )  # fmt: skip
                            continue
                        ref = self._remote.options(**self._options(component)).remote(
                            component, inputs, root, self.use_cache, self.cpus,
                            os.environ.get(staging.STAGING_ENV),
                        )  # fmt: skip
                        pending[ref] = (component, started)
                        logging.info("%s: submitted to Ray", component.id)
                if not pending:
                    continue
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    component, submitted = pending.pop(ref)
                    self._collect(ref, component, submitted, root, base, produced, failures)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        if failures:
            raise PipelineFailed(pipeline.name, failures, skipped)
        return produced

    def _collect(self, ref, component, submitted, root, base, produced, failures) -> None:
        """Turns one finished task into produced outputs or a failure, and logs it."""
        import ray

        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as error:  # the worker died more often than max_retries
            now = time.time()
            result = {
                "start": submitted,
                "end": now,
                "status": "failed",
                "node": "?",
                "worker": "?",
                "error": f"{type(error).__name__}: {str(error).splitlines()[0]}",
                "outputs": None,
            }
        extra = {"submitted": round(submitted, 3)}
        if result.get("gpus"):
            extra["gpus"] = result["gpus"]
        if result["status"] == "failed":
            failures[component.id] = result["error"]
            logging.error("%s failed: %s", component.id, result.get("traceback") or result["error"])
        else:
            produced[component.id] = result["outputs"]
        executions.append(
            root,
            executions.make_record(
                **base, component=component.id, start=result["start"], end=result["end"],
                status=result["status"], node=result["node"], worker=result["worker"],
                outputs=result["outputs"], error=result.get("error"), **extra,
            ),
        )  # fmt: skip
