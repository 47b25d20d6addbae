"""PoisonPlanner: examples artefact → plan artefact (ids, trigger, label rule, seed, counts).

Generic over studies: the trigger is given by name + JSON parameters, the label rule as JSON
(`{"kind": "regression_target", "target": [90, 0, 0]}`, `{"kind": "all_to_one", "target": [0]}`).
"""

from __future__ import annotations

import json

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import seed_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError
from poison_tf.poison.label_rules import label_rule_from_config
from poison_tf.poison.plan import PoisonPlan
from poison_tf.poison.selection import check_rate_percent, select_examples
from poison_tf.poison.triggers import make_trigger


def _json(value: str, name: str) -> dict:
    try:
        return json.loads(value) if value else {}
    except json.JSONDecodeError as error:
        raise UserInputError(f"--{name}: not valid JSON ({error})") from None


class PoisonPlannerSpec(ComponentSpec):
    INPUTS = {"examples": types.Examples.channel()}
    OUTPUTS = {"plan": types.PoisonPlan.channel()}
    PARAMETERS = {
        "trigger": ExecutionParameter(str, help="checkerboard|point|random|image|blend"),
        "trigger_params": ExecutionParameter(str, default="{}", help="JSON keyword arguments"),
        "rate_percent": ExecutionParameter(float, help="share of the training split, in percent"),
        "label_rule": ExecutionParameter(
            str, help='JSON, e.g. {"kind": "all_to_one", "target": [0]}'
        ),
        "seed": seed_parameter(17),
        "exclude_target_class": ExecutionParameter(
            bool, default=False, help="all-to-one: skip examples already of the target class"
        ),
    }


class PoisonPlannerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        examples_dir = input_dict["examples"][0].uri
        schema = read_schema(examples_dir)
        num_train = int(schema["splits"]["train"]["count"])
        rate = check_rate_percent(exec_properties["rate_percent"], "--rate_percent")
        trigger = make_trigger(
            exec_properties["trigger"], **_json(exec_properties["trigger_params"], "trigger_params")
        )
        height, width = schema["image_size"]
        trigger.check_fits(height, width, where=f"{examples_dir} images")
        rule = label_rule_from_config(_json(exec_properties["label_rule"], "label_rule"))
        candidates: np.ndarray | int = num_train
        if exec_properties["exclude_target_class"] and rule.kind == "all_to_one":
            labels = np.array(
                [
                    (int(e["id"]), int(e["label"]))
                    for e in image_examples_dataset(examples_dir, "train").as_numpy_iterator()
                ]
            )
            candidates = labels[labels[:, 1] != rule.target[0], 0]
        ids = select_examples(candidates, rate, exec_properties["seed"], num_examples=num_train)
        plan = PoisonPlan(trigger, rule, ids, num_train, rate, exec_properties["seed"])
        types.PoisonPlan.save(plan, output_dict["plan"][0])
        output_dict["plan"][0].properties.update(
            {
                "count": plan.count,
                "num_examples": num_train,
                "rate_percent": exec_properties["rate_percent"],
                "trigger": trigger.config.get("name"),
            }
        )


class PoisonPlanner(BaseComponent):
    """Examples artefact → plan artefact (ids, trigger, label rule, seed, counts)."""

    SPEC_CLASS = PoisonPlannerSpec
    EXECUTOR_CLASS = PoisonPlannerExecutor
