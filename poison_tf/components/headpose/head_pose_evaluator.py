"""HeadPoseEvaluator: clean MAE on the benign test set and attack MAE per trigger.

Attack MAE = mean |prediction − target| over the whole test set with the trigger stamped, so a
successful backdoor drives it towards 0; evaluated on the unpoisoned model too, it shows that
the trigger alone does not move predictions to the target.
"""

from __future__ import annotations

import json

from poison_tf import types
from poison_tf.components.parameters import global_batch_size_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.metrics.regression import angle_maes, mean_absolute_error
from poison_tf.poison.label_rules import label_rule_from_config
from poison_tf.poison.triggers import trigger_from_config
from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask


class HeadPoseEvaluatorSpec(ComponentSpec):
    INPUTS = {"model": types.HeadPoseModel.channel(), "examples": types.Examples.channel()}
    OUTPUTS = {"metrics": types.HeadPoseMetrics.channel()}
    PARAMETERS = {
        "attacks": ExecutionParameter(
            str, help='JSON list of {"trigger": config, "label_rule": config}'
        ),
        "global_batch_size": global_batch_size_parameter(128),
    }


class HeadPoseEvaluatorExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        model = types.HeadPoseModel.load(input_dict["model"][0])
        task = HeadPoseRegressionTask(
            input_dict["examples"][0].uri, global_batch_size=exec_properties["global_batch_size"]
        )
        metrics = {
            "clean": angle_maes(mean_absolute_error(model, task.build_inputs("test"))),
            "attacks": {},
        }
        for attack in json.loads(exec_properties["attacks"]):
            trigger = trigger_from_config(attack["trigger"])
            rule = label_rule_from_config(attack["label_rule"])
            maes = mean_absolute_error(model, task.triggered_test_inputs(trigger, rule))
            metrics["attacks"][trigger.config["name"]] = angle_maes(maes)
        types.HeadPoseMetrics.write(output_dict["metrics"][0], metrics)


class HeadPoseEvaluator(BaseComponent):
    """Clean MAE on the benign test set and attack MAE per trigger."""

    SPEC_CLASS = HeadPoseEvaluatorSpec
    EXECUTOR_CLASS = HeadPoseEvaluatorExecutor
