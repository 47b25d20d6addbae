"""SegReport: segmentation metrics of one or more models → report.md, CSVs, figures, TensorBoard.

For each model (labelled, e.g. `base`): the per-class Box/Mask table in the original study's
shape, the Ultralytics printout, and the validation mAP per epoch; then one figure of sample
validation images with the ground truth and every model's predictions (conf 0.25, as
`yolo predict` draws). Each model's TensorBoard logs are copied under `tensorboard/<label>/`.
"""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd

from poison_tf import types
from poison_tf.components.parameters import num_samples_parameter, report_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.seg_examples import read_seg_schema
from poison_tf.io.atomic import read_json
from poison_tf.report.clean_image_tables import github_table
from poison_tf.report.seg_figures import save_prediction_grid
from poison_tf.report.seg_samples import predict_samples, sample_batch
from poison_tf.report.seg_tables import class_table_markdown

SAMPLES_PNG = "samples.png"
HISTORY_KEYS = ("loss", "val_box_mAP50", "val_box_mAP50-95", "val_mask_mAP50", "val_mask_mAP50-95")


class SegReportSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "models": types.SegModel.channel(),
        "metrics": types.SegMetrics.channel(),
    }
    OUTPUTS = {"report": types.Report.channel()}
    PARAMETERS = {
        **report_parameters("YOLOv8-seg instance segmentation", "data, model and training"),
        "labels": ExecutionParameter(
            str, default="[]", help="JSON list: one label per model (default model_i)"
        ),
        "num_samples": num_samples_parameter(4),
        "sample_class": ExecutionParameter(
            int, default=-1, help="prefer sample images holding this class"
        ),
    }


def history_table(history: list[dict]) -> pd.DataFrame:
    """One row per training epoch: its losses and validation metrics.

    Args:
        history: the trainer's history records.

    Returns:
        The table.
    """
    rows = [
        {"epoch": i + 1, **{k: row[k] for k in HISTORY_KEYS if k in row}}
        for i, row in enumerate(history)
    ]
    return pd.DataFrame(rows)


class SegReportExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        examples = input_dict["examples"][0].uri
        names = read_seg_schema(examples)["label"]["names"]
        models, metrics = input_dict["models"], input_dict["metrics"]
        labels = json.loads(p["labels"]) or [f"model_{i}" for i in range(len(models))]
        out = output_dict["report"][0]
        lines = [f"# {p['title']}", "", p["settings"], ""]
        for label, model, metric in zip(labels, models, metrics):
            table = pd.read_csv(metric.path(types.SegMetrics.TABLE_CSV))
            summary = read_json(metric.path(types.SegMetrics.SUMMARY_FILE))
            shutil.copy(metric.path(types.SegMetrics.TABLE_CSV), out.path(f"table_{label}.csv"))
            lines += [
                f"## {label}: validation ({summary['images']} images)",
                "",
                class_table_markdown(table),
                "",
                "Ultralytics printout:",
                "",
                "```",
                open(metric.path(types.SegMetrics.TABLE_TXT)).read(),
                "```",
                "",
            ]
            if os.path.isfile(model.path(types.SegModel.HISTORY_FILE)):
                history = history_table(read_json(model.path(types.SegModel.HISTORY_FILE)))
                lines += [
                    f"Training ({label}), per epoch:",
                    "",
                    github_table(history, floatfmt=".4g"),
                    "",
                ]
            types.SegModel.copy_tensorboard(model, out.uri, label)
        images, truth = sample_batch(examples, p["num_samples"], p["sample_class"])
        predictions = {
            label: predict_samples(types.SegModel.load(model), images)
            for label, model in zip(labels, models)
        }
        save_prediction_grid(out.path(SAMPLES_PNG), images, truth, predictions, names)
        lines += [
            "## Sample validation images (predictions at conf 0.25)",
            "",
            f"![samples]({SAMPLES_PNG})",
            "",
        ]
        types.Report.write(out, "\n".join(lines))


class SegReport(BaseComponent):
    """Segmentation metrics of one or more models → report.md, CSVs, figures, TensorBoard."""

    SPEC_CLASS = SegReportSpec
    EXECUTOR_CLASS = SegReportExecutor
