"""A small TFX-shaped pipeline framework that knows no study.

Real TFX 1.21 does not install on glibc 2.36 machines and pins Keras 2 parts
(../shared/notes/tfx_distribute_h5.md §1), so the project keeps TFX's shapes and names with
none of its dependencies; a later port to real TFX stays mechanical.

Modules, lowest first (each imports only those above it):
- `spec`: `ComponentSpec`, `ChannelParameter`, `ExecutionParameter` (typed inputs, outputs,
  parameters; `is_path` parameters join the cache key by content, `stamp_files` lets a data
  source say which files that is).
- `artifact`: `Artifact`, a directory URI + type name + properties (`artifact.json`).
- `fingerprint`: `fingerprint(payload)`, `path_stamp(path)`, `parameter_stamp(value, spec)`.
- `lineage`: `execution.json` per execution and the `executions.jsonl` run log.
- `executor`: `BaseExecutor.Do(input_dict, output_dict, exec_properties)` and the
  `ExecutorContext` the runner gives it (`work_dir`: scratch that survives a crash;
  `work_saved()`: "a checkpoint there is complete").
- `execution`: `execute_component(component, inputs, root, use_cache)`, one cached, atomic
  execution: the unit any runner schedules.
- `component_doc`: the `Args:` / `Outputs:` sections of a component's docstring, written from its
  spec (types, help texts, defaults) when the class is created.
- `component`: `BaseComponent` (spec + executor + one use's channels and parameters),
  `Channel`, and `BaseComponent.run_standalone` on artefact URIs.
- `pipeline`: `Pipeline(name, components, root).ordered()`.
- `remote_fs`: the `tf.io.gfile` operations on a URI root (check, read, write, folder copies
  with a marker file last); `work_sync`: an execution's `work_dir` (checkpoints) copied to a
  URI root at each `work_saved`, a manifest last, so a retry on another node resumes;
  `staging`: a URI root through a local mirror (`execute_staged`, `cached_outputs`, `fetch`,
  `publish`), which both runners call.
- `runner`: `LocalDagRunner(use_cache).run(pipeline)` → {component id: {key: Artifact}};
  `resolve_inputs` maps upstream outputs to a component's inputs.
- `stage_cli`: `poison-tf-<stage>` programs whose flags come from component specs.
- `executions`: the `executions.jsonl` records both runners write (start, end, node, worker,
  status); `timeline`: the Gantt-style PNG of a run for the report.
- `ray_runner` (`RayDagRunner`, `PipelineFailed`), `ray_task` (what one Ray task does),
  `ray_cluster` (connect, the checks before any task), `ray_pipeline` (`--runner=ray`).
  Ray is imported only when one of these runs.
"""

from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent, Channel
from poison_tf.dag.execution import execute_component
from poison_tf.dag.executor import BaseExecutor, ExecutorContext
from poison_tf.dag.pipeline import Pipeline
from poison_tf.dag.runner import LocalDagRunner
from poison_tf.dag.spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = [
    "Artifact",
    "BaseComponent",
    "BaseExecutor",
    "Channel",
    "ChannelParameter",
    "ComponentSpec",
    "ExecutionParameter",
    "ExecutorContext",
    "LocalDagRunner",
    "Pipeline",
    "execute_component",
]
