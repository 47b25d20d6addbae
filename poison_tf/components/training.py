"""What every trainer component does around its Task: train in the work dir, export the model.

Checkpoints and logs go to the executor's work dir (stable per fingerprint, so a killed run
resumes; after each checkpoint the executor's `work_saved` lets the runner copy it to a URI
root, so a retry on another node resumes too); the trained model, `history.json` and the
TensorBoard logs are then copied into the output artefact. Logs exist only on the chief: under
multi_worker every worker saves the model (each runs the pipeline in its own root) but only the
chief has logs to copy.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import keras

from poison_tf.components.parameters import (
    global_batch_size_parameter,
    parameter_values,
    seed_parameter,
    strategy_parameter,
)
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ExecutionParameter
from poison_tf.train.loop import TrainerConfig, fit
from poison_tf.train.task import Task
from poison_tf.types import Model


def training_parameters(epochs: int, seed: int = 17) -> dict[str, ExecutionParameter]:
    """The spec parameters `train_and_export` reads, with a trainer's own defaults.

    Args:
        epochs: the trainer's default epoch count.
        seed: the trainer's default seed.

    Returns:
        {parameter name: ExecutionParameter}.
    """
    return {
        "epochs": ExecutionParameter(int, default=epochs, help="training epochs"),
        "global_batch_size": global_batch_size_parameter(64),
        "learning_rate": ExecutionParameter(
            float, default=1e-3, help="learning rate of the optimiser"
        ),
        "seed": seed_parameter(seed),
        "strategy": strategy_parameter(),
        "mixed_precision": ExecutionParameter(
            bool, default=False, help="mixed precision (float16 on GPU, bfloat16 on CPU)"
        ),
        "jit_compile": ExecutionParameter(bool, default=False, help="compile the steps with XLA"),
        "deterministic": ExecutionParameter(
            bool, default=False, help="TF op determinism, fixed seeds and thread pools"
        ),
    }


def task_arguments(exec_properties: dict[str, Any], *more: str) -> dict[str, Any]:
    """A trainer's Task keyword arguments that are its parameters under the same names.

    Every Task takes the global batch size, learning rate and seed of `training_parameters`;
    `more` adds the trainer's own (its model's width, `epochs` for a learning-rate schedule ...).

    Args:
        exec_properties: the trainer's resolved parameters.
        *more: further parameters the Task takes under their own names.

    Returns:
        {name: value}.
    """
    return parameter_values(exec_properties, "global_batch_size", "learning_rate", "seed", *more)


def train_and_export(
    task: Task, exec_properties: dict, out: Artifact, executor: BaseExecutor, **config
) -> keras.Model:
    """Trains `task` with the trainer parameters in `exec_properties` and saves into `out`.

    Args:
        task: the Task to train.
        exec_properties: the trainer's resolved parameters (see `training_parameters`).
        out: the model artefact that receives `model.keras`, `history.json`, `tensorboard/`.
        executor: the trainer's executor. Checkpoints and logs go to its `work_dir` (stable
            per fingerprint, so a killed run resumes), and its `work_saved` runs after each
            checkpoint (with a URI root the runner copies them there, so a retry on another
            node resumes too).
        **config: further `TrainerConfig` fields.

    Returns:
        The trained model.
    """
    work = executor.work_dir
    settings = dict(
        model_dir=work,
        **parameter_values(
            exec_properties, "epochs", "strategy", "mixed_precision", "jit_compile", "seed"
        ),
        deterministic=exec_properties.get("deterministic", False),
        checkpoint_every_steps=exec_properties.get("checkpoint_every_steps", 0),
        validate=exec_properties.get("validate", True),
        tensorboard_dir=os.path.join(work, "tensorboard"),
        on_checkpoint=executor.work_saved,
    )
    model = fit(task, TrainerConfig(**(settings | config)))
    Model.save(model, out)
    if os.path.isfile(os.path.join(work, "history.json")):
        shutil.copy(os.path.join(work, "history.json"), out.path(Model.HISTORY_FILE))
        shutil.copytree(os.path.join(work, "tensorboard"), out.path(Model.TENSORBOARD_DIR))
    return model
