"""A small TFX-shaped component layer (Artifact, ComponentSpec, Executor.Do, LocalDagRunner).

Real TFX 1.21 does not install on glibc 2.36 machines and pins Keras 2 parts
(../shared/notes/tfx_distribute_h5.md §1), so the project keeps TFX's shapes and names with
none of its dependencies; a later port to real TFX stays mechanical.
"""

from poison_tf.components.artifact import Artifact
from poison_tf.components.base import BaseComponent, BaseExecutor, Channel
from poison_tf.components.runner import LocalDagRunner, Pipeline
from poison_tf.components.spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = [
    "Artifact",
    "BaseComponent",
    "BaseExecutor",
    "Channel",
    "ChannelParameter",
    "ComponentSpec",
    "ExecutionParameter",
    "LocalDagRunner",
    "Pipeline",
]
