"""SegTrainer: instance-segmentation examples (+ an optional relabel plan) → a trained YOLOv8-seg.

Trains `YoloSegmentationTask` in the strategy-agnostic loop (any `--strategy`, resume after a
kill, TensorBoard, EMA weights exported). With a `plan` input (the clean-image backdoor's
`RelabelPlan`), the training labels are relabelled inside `tf.data` and the images stay
untouched; validation always reads the clean labels. The last epoch's Ultralytics `val` numbers
become properties of the model artefact.
"""

from __future__ import annotations

from poison_tf import types
from poison_tf.components.parameters import max_instances_parameter
from poison_tf.components.training import train_and_export, training_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.models import yolo_v8_seg  # noqa: F401 (registers the model class for loading)
from poison_tf.tasks.yolo_segmentation import YoloSegmentationTask


class SegTrainerSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "plan": types.RelabelPlan.channel(optional=True),
    }
    OUTPUTS = {"model": types.SegModel.channel()}
    PARAMETERS = {
        "size": ExecutionParameter(str, default="n", help="model size: tiny | n | s | m | l | x"),
        "warmup_epochs": ExecutionParameter(
            float, default=3.0, help="epochs of learning-rate warm-up"
        ),
        "lr_decay": ExecutionParameter(str, default="linear", help="linear | cosine"),
        "max_instances": max_instances_parameter(),
        "augment": ExecutionParameter(
            bool, default=True, help="flip, HSV, scale/translate while training"
        ),
        "epoch_map": ExecutionParameter(
            bool, default=True, help="val mAP after every epoch (else val losses)"
        ),
        "init_weights": ExecutionParameter(
            str, default="", help="start from this .pt / .keras YOLOv8-seg (empty: from scratch)"
        ),
        "init_weights_sha256": ExecutionParameter(
            str, default="", help="the init file's digest: a new file at the same path retrains"
        ),
        "trust_pickle": ExecutionParameter(
            bool, default=False, help="allow a full-object (pickled) Ultralytics .pt"
        ),
        **training_parameters(50, seed=0),
    }


class SegTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        plan = types.RelabelPlan.load_optional(input_dict.get("plan"))
        task = YoloSegmentationTask(
            input_dict["examples"][0].uri,
            size=p["size"],
            global_batch_size=p["global_batch_size"],
            learning_rate=p["learning_rate"] or None,
            seed=p["seed"],
            epochs=p["epochs"],
            warmup_epochs=p["warmup_epochs"],
            lr_decay=p["lr_decay"],
            max_instances=p["max_instances"],
            augment=None if p["augment"] else False,
            relabel=plan.relabel_fn() if plan else None,
            validate_map=p["epoch_map"],
            xla=p["jit_compile"],
            init_weights=p.get("init_weights") or None,
            trust_pickle=p.get("trust_pickle", False),
        )
        out = output_dict["model"][0]
        train_and_export(task, p, out, self)
        out.properties["size"] = task.size  # the init file's size when fine-tuning
        out.properties["init_weights"] = p.get("init_weights") or ""
        out.properties["poisoned"] = plan is not None
        last = types.SegModel.last_epoch(out)
        for key in ("val_box_mAP50", "val_box_mAP50-95", "val_mask_mAP50", "val_mask_mAP50-95"):
            if key in last:
                out.properties[key] = float(last[key])


class SegTrainer(BaseComponent):
    """Instance-segmentation examples (+ an optional relabel plan) → a trained YOLOv8-seg."""

    SPEC_CLASS = SegTrainerSpec
    EXECUTOR_CLASS = SegTrainerExecutor
