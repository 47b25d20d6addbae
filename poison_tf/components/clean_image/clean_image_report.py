"""CleanImageReport: the clean-image backdoor study's report, in the original write-up's shape.

Sections: the t-SNE pair ranking and scatter plot; the instance-difference table of every pair
(`**host2target**`, Name / Initial Count / Final Count); the base model's per-class Box/Mask
table; per pair the poisoned model's table and the base-vs-poisoned Δ table (host and target
marked); the attack table (success on host instances, host AP drop, target AP against poisoned
labels, side effects on the other classes, the base model's success as a baseline); whether the
original study's observation holds; and base vs poisoned predictions on host images.
TensorBoard: every model's logs plus the t-SNE projector.
"""

from __future__ import annotations

import os
import shutil

import pandas as pd

from poison_tf import types
from poison_tf.components.parameters import num_samples_parameter, settings_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec
from poison_tf.data.seg_examples import read_seg_schema
from poison_tf.io.atomic import read_json
from poison_tf.metrics.clean_image_attack import attack_summary, comparison_table, study_observation
from poison_tf.report.clean_image_tables import (
    attack_table,
    comparison_markdown,
    github_table,
    pair_section,
)
from poison_tf.report.seg_figures import save_prediction_grid
from poison_tf.report.seg_samples import predict_samples, sample_batch
from poison_tf.report.seg_tables import class_table_markdown
from poison_tf.report.tables import write_csv


class CleanImageReportSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "pairs": types.ClassPairs.channel(),
        "plans": types.RelabelPlan.channel(),
        "base_model": types.SegModel.channel(),
        "base_metrics": types.SegMetrics.channel(),
        "base_attacks": types.SegMetrics.channel(),
        "models": types.SegModel.channel(),
        "metrics": types.SegMetrics.channel(),
    }
    OUTPUTS = {"report": types.Report.channel()}
    PARAMETERS = {
        "settings": settings_parameter("data, models and attack"),
        "num_samples": num_samples_parameter(3),
    }


def _table(artifact, name: str = types.SegMetrics.TABLE_CSV) -> pd.DataFrame | None:
    path = artifact.path(name)
    return pd.read_csv(path) if os.path.isfile(path) else None


class CleanImageReportExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        out = output_dict["report"][0]
        examples = input_dict["examples"][0].uri
        names = read_seg_schema(examples)["label"]["names"]
        selector = input_dict["pairs"][0]
        plans = [types.RelabelPlan.load(a) for a in input_dict["plans"]]
        base_model, base_metrics = input_dict["base_model"][0], input_dict["base_metrics"][0]
        base = _table(base_metrics)
        ranking = pd.read_csv(selector.path(types.ClassPairs.RANKING_CSV))
        shutil.copy(
            selector.path(types.ClassPairs.SCATTER_PNG), out.path(types.ClassPairs.SCATTER_PNG)
        )
        lines = [
            "# Clean-image backdoor on a YOLOv8-seg",
            "",
            p["settings"],
            "",
            "## Pair selection (t-SNE of the base model's instance features)",
            "",
            github_table(ranking.head(10), floatfmt=".4g"),
            "",
            f"![t-SNE]({types.ClassPairs.SCATTER_PNG})",
            "",
            f"## Instance Difference (Host/Target) with {plans[0].ratio:g} ratio",
            "",
        ]
        lines += [pair_section(plan) for plan in plans]
        lines += ["## Base model (clean validation labels)", "", class_table_markdown(base), ""]
        summaries, observations = [], []
        base_net = types.SegModel.load(base_model)
        for plan, model, metrics, base_attack in zip(
            plans, input_dict["models"], input_dict["metrics"], input_dict["base_attacks"]
        ):
            host, target, slug = plan.pair.host_name, plan.pair.target_name, plan.pair.slug
            poisoned = _table(metrics)
            comparison = comparison_table(base, poisoned, host, target)
            write_csv(comparison, out.path(f"comparison_{slug}.csv"), index=False)
            shutil.copy(metrics.path(types.SegMetrics.TABLE_CSV), out.path(f"table_{slug}.csv"))
            lines += [
                f"## {slug}: poisoned model (clean validation labels)",
                "",
                class_table_markdown(poisoned),
                "",
                f"Base vs poisoned, Δ = poisoned − base (host `{host}`, target `{target}`):",
                "",
                comparison_markdown(comparison),
                "",
            ]
            success = read_json(metrics.path(types.SegMetrics.ATTACK_FILE))
            summary = attack_summary(
                base,
                poisoned,
                host,
                target,
                _table(metrics, types.SegMetrics.POISONED_LABELS_CSV),
                success,
            )
            baseline = read_json(base_attack.path(types.SegMetrics.ATTACK_FILE))
            summary.update(
                {
                    "base box_success": baseline["box_success"],
                    "base mask_success": baseline["mask_success"],
                    "host instances (val)": success["host_instances"],
                }
            )
            summaries.append(summary)
            observations.append(f"- **{slug}**: {study_observation(summary)[1]}")
            images, truth = sample_batch(examples, p["num_samples"], plan.pair.host)
            predictions = {
                "base": predict_samples(base_net, images),
                slug: predict_samples(types.SegModel.load(model), images),
            }
            save_prediction_grid(out.path(f"samples_{slug}.png"), images, truth, predictions, names)
            types.SegModel.copy_tensorboard(model, out.uri, slug)
        attacks = attack_table(summaries)
        write_csv(attacks, out.path("attack.csv"), index=False)
        lines += [
            "## Attack",
            "",
            "Success = share of the host's ground-truth validation instances predicted as the target "
            "(IoU ≥ 0.5, conf ≥ 0.25); drops are base − poisoned; target AP also against the poisoned "
            "validation labels (the plan's rule applied to val).",
            "",
            github_table(
                attacks.set_index("Pair").T.reset_index().rename(columns={"index": "metric"}),
                floatfmt=".3g",
            ),
            "",
            "Does the original study's observation hold (overall mAP barely moves, the host loses AP, "
            "the target gains false positives)?",
            "",
            *observations,
            "",
        ]
        lines += ["## Base vs poisoned predictions on host images (conf 0.25)", ""]
        lines += [f"![{plan.pair.slug}](samples_{plan.pair.slug}.png)" for plan in plans] + [""]
        types.SegModel.copy_tensorboard(base_model, out.uri, "base")
        if os.path.isdir(selector.path("projector")):
            shutil.copytree(
                selector.path("projector"), out.path("tensorboard/projector"), dirs_exist_ok=True
            )
        types.Report.write(out, "\n".join(lines))


class CleanImageReport(BaseComponent):
    """The clean-image backdoor study's report, in the original write-up's shape."""

    SPEC_CLASS = CleanImageReportSpec
    EXECUTOR_CLASS = CleanImageReportExecutor
