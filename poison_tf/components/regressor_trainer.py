"""RegressorTrainer: examples (+ optional poison plan) → a trained ResNet18 head-pose model.

The strategy is resolved by the program (`--strategy`), so the same component trains on a
laptop, several GPUs or several machines. Checkpoints live in a stable folder keyed by the
execution fingerprint (the runner's work dir), so a killed run resumes where it stopped when
the pipeline is started again.
"""

from __future__ import annotations

from poison_tf.components.base import BaseComponent, BaseExecutor
from poison_tf.components.poison_planner import load_plan
from poison_tf.components.spec import ChannelParameter, ComponentSpec, ExecutionParameter
from poison_tf.components.training import MODEL_FILE, train_and_export, training_parameters
from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask

__all__ = ["MODEL_FILE", "RegressorTrainer"]


class RegressorTrainerSpec(ComponentSpec):
    INPUTS = {
        "examples": ChannelParameter("Examples"),
        "plan": ChannelParameter("PoisonPlan", optional=True),
    }
    OUTPUTS = {"model": ChannelParameter("Model")}
    PARAMETERS = {
        "width": ExecutionParameter(
            float, default=1.0, help="ResNet18 width multiplier (stages 2-4)"
        ),
        "backbone_weights": ExecutionParameter(
            str,
            default="",
            is_path=True,
            help="pretrained ResNet18 backbone (.pth state_dict or imported .keras); '' = from scratch",
        ),
        **training_parameters(30),
        "checkpoint_every_steps": ExecutionParameter(int, default=0),
    }


class RegressorTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        plan = load_plan(input_dict["plan"][0]) if input_dict.get("plan") else None
        task = HeadPoseRegressionTask(
            input_dict["examples"][0].uri,
            plan=plan,
            width=exec_properties["width"],
            global_batch_size=exec_properties["global_batch_size"],
            learning_rate=exec_properties["learning_rate"],
            seed=exec_properties["seed"],
            epochs=exec_properties["epochs"],
            backbone_weights=exec_properties.get("backbone_weights", ""),
        )
        out = output_dict["model"][0]
        train_and_export(task, exec_properties, out)
        out.properties["input_size"] = task.input_size


class RegressorTrainer(BaseComponent):
    VERSION = "2"  # cosine learning-rate decay over the run
    SPEC_CLASS = RegressorTrainerSpec
    EXECUTOR_CLASS = RegressorTrainerExecutor
