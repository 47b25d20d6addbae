"""FaceClassifierTrainer: face examples (+ optional poison plan) → a trained DeepID BadNet classifier.

Follows HeadPoseTrainer: the project's strategy-agnostic loop, checkpoints in the runner's
stable work dir (a killed run resumes), TensorBoard logs and history copied into the artefact.
"""

from __future__ import annotations

from poison_tf import types
from poison_tf.components.training import task_arguments, train_and_export, training_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec
from poison_tf.tasks.face_classification import FaceClassificationTask

__all__ = ["FaceClassifierTrainer"]


class FaceClassifierTrainerSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "plan": types.PoisonPlan.channel(optional=True),
    }
    OUTPUTS = {"model": types.FaceModel.channel()}
    PARAMETERS = training_parameters(10)


class FaceClassifierTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        plan = types.PoisonPlan.load_optional(input_dict.get("plan"))
        task = FaceClassificationTask(
            input_dict["examples"][0].uri, plan=plan, **task_arguments(exec_properties)
        )
        out = output_dict["model"][0]
        train_and_export(task, exec_properties, out, self, progress=False)
        out.properties["num_classes"] = task.num_classes


class FaceClassifierTrainer(BaseComponent):
    """Face examples (+ optional poison plan) → a trained DeepID BadNet classifier."""

    SPEC_CLASS = FaceClassifierTrainerSpec
    EXECUTOR_CLASS = FaceClassifierTrainerExecutor
