"""CleanImagePlanner: one host→target pair → the relabel plan of the clean-image backdoor.

Labels only: `ratio` of the pair's host instances in the training split (exact count, chosen
from `seed`, per instance or per image) become the target class; the images stay untouched.
The pair is entry `index` of the CleanImagePairSelector's list, so the DAG can be built before the t-SNE
has chosen its pairs. The same rule applied to the validation split (`val_plan.json`) gives
the poisoned validation labels against which the target class's AP is also measured.
"""

from __future__ import annotations

from absl import logging

from poison_tf import types
from poison_tf.attacks.clean_image_instances import table_from_records
from poison_tf.components.parameters import seed_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.poison.relabel_plan import plan_relabel, plan_validation_relabel


class CleanImagePlannerSpec(ComponentSpec):
    INPUTS = {"examples": types.Examples.channel(), "pairs": types.ClassPairs.channel()}
    OUTPUTS = {"plan": types.RelabelPlan.channel()}
    PARAMETERS = {
        "index": ExecutionParameter(int, default=0, help="which pair of the selector's list"),
        "ratio": ExecutionParameter(
            float, default=0.5, help="share of the host's training instances relabelled, in (0, 1]"
        ),
        "mode": ExecutionParameter(str, default="instances", help="instances | images"),
        "seed": seed_parameter(),
    }


class CleanImagePlannerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        examples = input_dict["examples"][0].uri
        pair = types.ClassPairs.load(input_dict["pairs"][0])[p["index"]]
        plan = plan_relabel(
            table_from_records(examples, "train"), pair, p["ratio"], p["seed"], p["mode"]
        )
        out = output_dict["plan"][0]
        types.RelabelPlan.save(plan, out)
        val_plan, why_none = plan_validation_relabel(table_from_records(examples, "val"), plan)
        if val_plan is None:
            logging.warning("clean-image planner: %s", why_none)
            out.properties["val_plan_skipped"] = why_none
        else:
            types.RelabelPlan.save(val_plan, out, types.RelabelPlan.VAL_FILE)
        out.properties.update(pair=pair.slug, relabelled=plan.count, host_initial=plan.host_initial)


class CleanImagePlanner(BaseComponent):
    """One host→target pair → the relabel plan of the clean-image backdoor."""

    SPEC_CLASS = CleanImagePlannerSpec
    EXECUTOR_CLASS = CleanImagePlannerExecutor
