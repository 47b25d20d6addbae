"""SegTrainer: instance-segmentation examples (+ an optional relabel plan) → a trained YOLOv8-seg.

Trains `YoloSegmentationTask` in the strategy-agnostic loop (any `--strategy`, resume after a
kill, TensorBoard, EMA weights exported). With a `plan` input (the clean-image backdoor's
`RelabelPlan`), the training labels are relabelled inside `tf.data` and the images stay
untouched; validation always reads the clean labels. The last epoch's Ultralytics `val` numbers
become properties of the model artefact.
"""

from __future__ import annotations

import os

import keras

from poison_tf.attacks.clean_image_plan import RelabelPlan
from poison_tf.components.base import BaseComponent, BaseExecutor
from poison_tf.components.spec import ChannelParameter, ComponentSpec, ExecutionParameter
from poison_tf.components.training import MODEL_FILE, train_and_export, training_parameters
from poison_tf.io.atomic import read_json
from poison_tf.models import yolo_v8_seg  # noqa: F401 (registers the model class for loading)
from poison_tf.tasks.yolo_segmentation import YoloSegmentationTask

__all__ = ["MODEL_FILE", "PLAN_FILE", "SegTrainer"]

PLAN_FILE = "plan.json"


class SegTrainerSpec(ComponentSpec):
    INPUTS = {
        "examples": ChannelParameter("Examples"),
        "plan": ChannelParameter("RelabelPlan", optional=True),
    }
    OUTPUTS = {"model": ChannelParameter("Model")}
    PARAMETERS = {
        "size": ExecutionParameter(str, default="n", help="model size: tiny | n | s | m | l | x"),
        "warmup_epochs": ExecutionParameter(float, default=3.0),
        "lr_decay": ExecutionParameter(str, default="linear", help="linear | cosine"),
        "max_instances": ExecutionParameter(int, default=100),
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


def load_seg_model(artifact) -> keras.Model:
    """The trained model of a SegTrainer artefact (EMA weights)."""
    return keras.models.load_model(artifact.path(MODEL_FILE), compile=False)


def load_plan(input_dict: dict) -> RelabelPlan | None:
    plans = input_dict.get("plan") or []
    return RelabelPlan.load(plans[0].path(PLAN_FILE)) if plans else None


class SegTrainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        plan = load_plan(input_dict)
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
        train_and_export(task, p, out)
        out.properties["size"] = task.size  # the init file's size when fine-tuning
        out.properties["init_weights"] = p.get("init_weights") or ""
        out.properties["poisoned"] = plan is not None
        if os.path.isfile(out.path("history.json")):
            last = (read_json(out.path("history.json")) or [{}])[-1]
            for key in ("val_box_mAP50", "val_box_mAP50-95", "val_mask_mAP50", "val_mask_mAP50-95"):
                if key in last:
                    out.properties[key] = float(last[key])


class SegTrainer(BaseComponent):
    SPEC_CLASS = SegTrainerSpec
    EXECUTOR_CLASS = SegTrainerExecutor
