"""What every trainer component does around its Task: train in the work dir, export the model.

Checkpoints and logs go to the runner's work dir (stable per fingerprint, so a killed run
resumes); the trained model, `history.json` and the TensorBoard logs are then copied into the
output artefact. Logs exist only on the chief: under multi_worker every worker saves the model
(each runs the pipeline in its own root) but only the chief has logs to copy.
"""

from __future__ import annotations

import os
import shutil

import keras

from poison_tf.components.artifact import Artifact
from poison_tf.components.runner import WORK_DIR_KEY
from poison_tf.components.spec import ExecutionParameter
from poison_tf.train.loop import TrainerConfig, fit
from poison_tf.train.task import Task

MODEL_FILE = "model.keras"


def training_parameters(epochs: int, seed: int = 17) -> dict[str, ExecutionParameter]:
    """The spec parameters `train_and_export` reads, with a trainer's own defaults."""
    return {
        "epochs": ExecutionParameter(int, default=epochs),
        "global_batch_size": ExecutionParameter(int, default=64),
        "learning_rate": ExecutionParameter(float, default=1e-3),
        "seed": ExecutionParameter(int, default=seed),
        "strategy": ExecutionParameter(str, default="default"),
        "mixed_precision": ExecutionParameter(bool, default=False),
        "jit_compile": ExecutionParameter(bool, default=False),
        "deterministic": ExecutionParameter(
            bool, default=False, help="TF op determinism, fixed seeds and thread pools"
        ),
    }


def train_and_export(task: Task, exec_properties: dict, out: Artifact, **config) -> keras.Model:
    """Trains `task` with the trainer parameters in `exec_properties` and saves into `out`."""
    work = exec_properties[WORK_DIR_KEY]
    settings = dict(
        model_dir=work,
        epochs=exec_properties["epochs"],
        strategy=exec_properties["strategy"],
        mixed_precision=exec_properties["mixed_precision"],
        jit_compile=exec_properties["jit_compile"],
        seed=exec_properties["seed"],
        deterministic=exec_properties.get("deterministic", False),
        checkpoint_every_steps=exec_properties.get("checkpoint_every_steps", 0),
        tensorboard_dir=os.path.join(work, "tensorboard"),
    )
    model = fit(task, TrainerConfig(**(settings | config)))
    model.save(out.path(MODEL_FILE))
    if os.path.isfile(os.path.join(work, "history.json")):
        shutil.copy(os.path.join(work, "history.json"), out.path("history.json"))
        shutil.copytree(os.path.join(work, "tensorboard"), out.path("tensorboard"))
    return model
