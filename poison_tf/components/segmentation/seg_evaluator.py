"""SegEvaluator: a trained YOLOv8-seg on the clean validation split → Ultralytics `val` metrics.

Writes the per-class Box/Mask table (CSV, and the text Ultralytics prints), the summary numbers,
and the model's predictions as a COCO results JSON and YOLO txt files, so they can be checked by
any tool (`poison-tf-seg-val --predictions=...`). With a relabel plan (the clean-image
backdoor) it also measures attack success on the host's ground-truth instances and a second
table against the poisoned validation labels (the plan's rule applied to the val split), from
the same single pass of the model.
"""

from __future__ import annotations

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import global_batch_size_parameter, max_instances_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.seg_examples import make_dataset, read_seg_schema, read_split_index
from poison_tf.io.atomic import atomic_file, write_json
from poison_tf.metrics.clean_image_attack import AttackSuccess
from poison_tf.metrics.seg_validation import SegValidator
from poison_tf.models.yolo_seg_predict import export_predictions, predict_dataset


class SegEvaluatorSpec(ComponentSpec):
    INPUTS = {
        "model": types.SegModel.channel(),
        "examples": types.Examples.channel(),
        "plan": types.RelabelPlan.channel(optional=True),
    }
    OUTPUTS = {"metrics": types.SegMetrics.channel()}
    PARAMETERS = {
        "split": ExecutionParameter(str, default="val", help="the split evaluated"),
        "global_batch_size": global_batch_size_parameter(8),
        "max_instances": max_instances_parameter(),
        "export": ExecutionParameter(
            bool, default=True, help="write COCO results JSON and YOLO txt"
        ),
    }


class SegEvaluatorExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        examples = input_dict["examples"][0].uri
        names = read_seg_schema(examples)["label"]["names"]
        model = types.SegModel.load(input_dict["model"][0])

        plans = input_dict.get("plan") or []
        plan = types.RelabelPlan.load(plans[0]) if plans else None
        val_plan = types.RelabelPlan.load_val(plans[0]) if plans else None

        def dataset(relabel=None):
            return make_dataset(
                examples,
                p["split"],
                p["global_batch_size"],
                training=False,
                max_instances=p["max_instances"],
                relabel=relabel,
            )

        def clean_classes():
            """The clean val classes beside the relabelled pass (a label-only second read)."""
            for _, labels in dataset():
                for row in labels["classes"].numpy():
                    yield row[row >= 0]

        validator = SegValidator(names)
        poisoned = SegValidator(names) if val_plan else None
        attack = AttackSuccess(plan.pair.host, plan.pair.target) if plan else None
        outputs = predict_dataset(model, dataset(val_plan.relabel_fn() if val_plan else None))
        pairs = (
            zip(outputs, clean_classes())
            if val_plan
            else ((out, out.gt_classes) for out in outputs)
        )
        for out, classes in pairs:  # streamed: one image's masks in memory at a time
            geometry = {"letterbox": out.letterbox, "orig_size": out.orig_size}
            predicted = (out.boxes, out.scores, out.classes, out.masks, out.gt_boxes)
            validator.update(*predicted, classes, out.gt_masks, **geometry)
            if poisoned:
                poisoned.update(*predicted, out.gt_classes, out.gt_masks, **geometry)
            if attack:
                attack.update(*predicted, classes, out.gt_masks, **geometry)
        out = output_dict["metrics"][0]
        validator.write_csv(out.path(types.SegMetrics.TABLE_CSV))
        with atomic_file(out.path(types.SegMetrics.TABLE_TXT)) as handle:
            handle.write(validator.format())
        summary = {k: float(v) for k, v in validator.summary().items()}
        write_json(
            out.path(types.SegMetrics.SUMMARY_FILE), summary | {"images": int(validator.seen)}
        )
        if attack:
            write_json(
                out.path(types.SegMetrics.ATTACK_FILE), attack.result() | {"pair": plan.pair.slug}
            )
        if poisoned:
            poisoned.write_csv(out.path(types.SegMetrics.POISONED_LABELS_CSV))
        if p["export"]:
            stems = [entry["stem"] for entry in read_split_index(examples, p["split"])]
            export_predictions(
                model,
                dataset(),
                stems,
                names,
                coco_json=out.path(types.SegMetrics.COCO_RESULTS),
                yolo_dir=out.path("labels"),
            )
        out.properties.update({k: v for k, v in summary.items() if np.isfinite(v)})


class SegEvaluator(BaseComponent):
    """A trained YOLOv8-seg on the clean validation split → Ultralytics `val` metrics."""

    SPEC_CLASS = SegEvaluatorSpec
    EXECUTOR_CLASS = SegEvaluatorExecutor
