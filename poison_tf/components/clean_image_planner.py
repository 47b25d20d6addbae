"""CleanImagePlanner: one host→target pair → the relabel plan of the clean-image backdoor.

Labels only: `ratio` of the pair's host instances in the training split (exact count, chosen
from `seed`, per instance or per image) become the target class; the images stay untouched.
The pair is entry `index` of the PairSelector's list, so the DAG can be built before the t-SNE
has chosen its pairs. The same rule applied to the validation split (`val_plan.json`) gives
the poisoned validation labels against which the target class's AP is also measured.
"""

from __future__ import annotations

import os

from absl import logging

from poison_tf.attacks.clean_image_instances import table_from_records
from poison_tf.attacks.clean_image_plan import RelabelPlan, plan_relabel, plan_validation_relabel
from poison_tf.components.base import BaseComponent, BaseExecutor
from poison_tf.components.pair_selector import load_pairs
from poison_tf.components.seg_trainer import PLAN_FILE
from poison_tf.components.spec import ChannelParameter, ComponentSpec, ExecutionParameter

VAL_PLAN_FILE = "val_plan.json"


class CleanImagePlannerSpec(ComponentSpec):
    INPUTS = {"examples": ChannelParameter("Examples"), "pairs": ChannelParameter("ClassPairs")}
    OUTPUTS = {"plan": ChannelParameter("RelabelPlan")}
    PARAMETERS = {
        "index": ExecutionParameter(int, default=0, help="which pair of the selector's list"),
        "ratio": ExecutionParameter(float, default=0.5),
        "mode": ExecutionParameter(str, default="instances", help="instances | images"),
        "seed": ExecutionParameter(int, default=0),
    }


def load_val_plan(artifact) -> RelabelPlan | None:
    path = artifact.path(VAL_PLAN_FILE)
    return RelabelPlan.load(path) if os.path.isfile(path) else None


class CleanImagePlannerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        examples = input_dict["examples"][0].uri
        pair = load_pairs(input_dict["pairs"][0])[p["index"]]
        plan = plan_relabel(
            table_from_records(examples, "train"), pair, p["ratio"], p["seed"], p["mode"]
        )
        out = output_dict["plan"][0]
        plan.save(out.path(PLAN_FILE))
        val_plan, why_none = plan_validation_relabel(
            table_from_records(examples, "val"), pair, p["ratio"], p["seed"], p["mode"]
        )
        if val_plan is None:
            logging.warning("clean-image planner: %s", why_none)
            out.properties["val_plan_skipped"] = why_none
        else:
            val_plan.save(out.path(VAL_PLAN_FILE))
        out.properties.update(pair=pair.slug, relabelled=plan.count, host_initial=plan.host_initial)


class CleanImagePlanner(BaseComponent):
    SPEC_CLASS = CleanImagePlannerSpec
    EXECUTOR_CLASS = CleanImagePlannerExecutor
