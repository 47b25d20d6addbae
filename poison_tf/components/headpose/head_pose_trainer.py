"""HeadPoseTrainer: examples (+ optional poison plan) → a trained ResNet18 head-pose model.

The strategy is resolved by the program (`--strategy`), so the same component trains on a
laptop, several GPUs or several machines. Checkpoints live in a stable folder keyed by the
execution fingerprint (the runner's work dir), so a killed run resumes where it stopped when
the pipeline is started again.
"""

from __future__ import annotations

from poison_tf import types
from poison_tf.components.training import task_arguments, train_and_export, training_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask

__all__ = ["HeadPoseTrainer"]


class HeadPoseTrainerSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "plan": types.PoisonPlan.channel(optional=True),
        "init_model": types.HeadPoseModel.channel(
            optional=True,
            help="the model to start from (the poisoned fine-tuning protocol: the clean "
            "baseline); without it the model starts from scratch (or from `backbone_weights`)",
        ),
    }
    OUTPUTS = {"model": types.HeadPoseModel.channel()}
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
        "checkpoint_every_steps": ExecutionParameter(
            int, default=0, help="also checkpoint every N steps (0: at the end of each epoch)"
        ),
        "validate": ExecutionParameter(
            bool,
            default=True,
            help="validate after every epoch (history.json, TensorBoard); off for short "
            "fine-tunes that an evaluator measures anyway (a trace and a pass saved)",
        ),
    }


class HeadPoseTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        plan = types.PoisonPlan.load_optional(input_dict.get("plan"))
        init = input_dict.get("init_model")
        task = HeadPoseRegressionTask(
            input_dict["examples"][0].uri,
            plan=plan,
            backbone_weights=exec_properties.get("backbone_weights", ""),
            init_model=types.HeadPoseModel.path(init[0]) if init else "",
            **task_arguments(exec_properties, "width", "epochs"),
        )
        out = output_dict["model"][0]
        train_and_export(task, exec_properties, out, self)
        out.properties["input_size"] = task.input_size


class HeadPoseTrainer(BaseComponent):
    """Examples (+ optional poison plan) → a trained ResNet18 head-pose model."""

    VERSION = "2"  # cosine learning-rate decay over the run
    SPEC_CLASS = HeadPoseTrainerSpec
    EXECUTOR_CLASS = HeadPoseTrainerExecutor
