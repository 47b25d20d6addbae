"""PatchVictimTrainer: class-labelled examples → the trained victim classifier of `adversarial_patch`.

Trains `ImageClassificationTask` (a small residual CNN or ResNet50, optionally starting from a
local weights file) with the strategy-agnostic loop, so it runs under any `--strategy`, resumes
after a kill and logs to TensorBoard. The test accuracy of the last epoch is a property of
the model artefact.
"""

from __future__ import annotations

from poison_tf import types
from poison_tf.components.training import task_arguments, train_and_export, training_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.tasks.image_classification import ImageClassificationTask


class PatchVictimTrainerSpec(ComponentSpec):
    INPUTS = {"examples": types.Examples.channel()}
    OUTPUTS = {"model": types.VictimModel.channel()}
    PARAMETERS = {
        "arch": ExecutionParameter(str, default="small", help="small | resnet50"),
        "weights": ExecutionParameter(
            str, default="", is_path=True, help="resnet50: local weights file to start from"
        ),
        "filters": ExecutionParameter(int, default=16, help="small: filters of the stem"),
        "pooling": ExecutionParameter(str, default="avg", help="small: global avg or max pooling"),
        "flip": ExecutionParameter(
            bool, default=False, help="random left-right flips while training"
        ),
        "lr_decay": ExecutionParameter(
            str, default="constant", help="constant | cosine | linear (to 5 % at the end)"
        ),
        **training_parameters(10, seed=0),
    }


class PatchVictimTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        task = ImageClassificationTask(
            input_dict["examples"][0].uri,
            **task_arguments(
                p, "arch", "weights", "filters", "pooling", "flip", "epochs", "lr_decay"
            ),
        )
        out = output_dict["model"][0]
        train_and_export(task, p, out, self)
        last = types.VictimModel.last_epoch(out)
        if "val_accuracy" in last:
            out.properties["test_accuracy"] = float(last["val_accuracy"])
        out.properties["arch"] = p["arch"]


class PatchVictimTrainer(BaseComponent):
    """Class-labelled examples → the trained victim classifier of `adversarial_patch`."""

    SPEC_CLASS = PatchVictimTrainerSpec
    EXECUTOR_CLASS = PatchVictimTrainerExecutor
