"""Pipeline `instance_segmentation`: a YOLOv8-seg trained from scratch, validated like Ultralytics.

SegExampleGen (synthetic street scenes, a YOLO-seg folder or COCO JSON → TFRecords) →
SegTrainer (the strategy loop: AdamW, warm-up + decay, EMA, checkpoints, TensorBoard) →
SegEvaluator (per-class Box/Mask P, R, mAP50, mAP50-95 with `val` semantics; COCO results JSON
and YOLO txt) → SegReport. The clean-image backdoor study builds on the same components.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from pipelines import common
from poison_tf.components import Pipeline
from poison_tf.components.seg_evaluator import SegEvaluator
from poison_tf.components.seg_example_gen import SegExampleGen
from poison_tf.components.seg_report import SegReport
from poison_tf.components.seg_trainer import SegTrainer

NAME = "instance_segmentation"

flags.DEFINE_string("model_size", None, "YOLOv8-seg size: tiny, n, s, m, l, x.")
flags.DEFINE_integer("num_val", None, "Synthetic: validation images.")
flags.DEFINE_integer("max_instances", None, "Instances kept per image (largest first).")
flags.DEFINE_bool("augment", None, "Train with flips, HSV, scale and translate augmentation.")
flags.DEFINE_string(
    "init_weights",
    None,
    "Fine-tune from this YOLOv8-seg: an Ultralytics .pt or a .keras (its size wins over "
    "--model_size; another class count re-initialises the class head).",
)
flags.DEFINE_bool(  # the same flag as poison-tf-import's (both allow the other's definition)
    "trust_pickle",
    False,
    "Allow a full-object Ultralytics .pt for --init_weights (unpickling runs its code).",
    allow_override=True,
)


@dataclasses.dataclass(frozen=True)
class SegStudyConfig:
    source: str = "synthetic_streets"
    image_size: int = 128
    num_train: int = 400
    num_val: int = 100
    model_size: str = "n"
    epochs: int = 50
    global_batch_size: int = 16
    learning_rate: float = 0.0  # 0: Ultralytics' optimizer=auto rate for the class count
    warmup_epochs: float = 3.0
    lr_decay: str = "linear"
    augment: bool = True
    max_instances: int = 100
    epoch_map: bool = True  # Ultralytics validates (mAP) after every epoch; off = val losses only
    seed: int = 0
    init_weights: str = ""  # an Ultralytics .pt / .keras YOLOv8-seg to fine-tune from ("": scratch)
    trust_pickle: bool = False
    init_weights_sha256: str = ""  # set by validate()


PRESETS = {
    # Under 4 minutes on 2 CPU cores: rendered street scenes at 128 px, the tiny model.
    "demo": SegStudyConfig(
        num_train=320,
        num_val=64,
        model_size="tiny",
        epochs=20,
        global_batch_size=16,
        learning_rate=0.01,
        warmup_epochs=1.0,
    ),
    # The real-data check on CPU: coco128-seg (train = val, 128 images) at 320 px, the n model.
    "coco128": SegStudyConfig(
        source="yolo:../shared/datasets/coco128-seg/data.yaml",
        image_size=320,
        model_size="n",
        epochs=60,
        global_batch_size=8,
        learning_rate=0.002,
        warmup_epochs=2.0,
        epoch_map=False,
    ),
    # The original study's setting (3,500 images at 720 px, 50 epochs); Ultralytics rounds 720 up to
    # a multiple of the largest stride, 736. Sized for a GPU.
    "study": SegStudyConfig(
        source="synthetic_streets",
        image_size=736,
        num_train=3500,
        num_val=500,
        model_size="n",
        epochs=50,
        global_batch_size=16,
    ),
}


def validate(config: SegStudyConfig) -> SegStudyConfig:
    if config.image_size % 32:
        raise common.UserInputError(
            f"--image_size={config.image_size}: must be a multiple of 32 (the largest stride)"
        )
    if config.model_size not in ("tiny", "n", "s", "m", "l", "x"):
        raise common.UserInputError(
            f"--model_size={config.model_size!r}: choose tiny, n, s, m, l or x"
        )
    if config.epochs < 1:
        raise common.UserInputError(f"--epochs={config.epochs}: must be >= 1")
    if config.init_weights:  # fail before any component runs, and fingerprint the file
        from poison_tf.io.seg_init_weights import check_init_weights

        digest = check_init_weights(config.init_weights, config.trust_pickle)
        config = dataclasses.replace(config, init_weights_sha256=digest)
    return config


def example_gen(config: SegStudyConfig) -> SegExampleGen:
    return SegExampleGen(
        source=config.source,
        image_size=config.image_size,
        num_train=config.num_train,
        num_val=config.num_val,
        seed=config.seed,
        max_instances=min(config.max_instances, 255),
    )


def trainer(
    config: SegStudyConfig, examples, plan=None, instance_name: str | None = None
) -> SegTrainer:
    return SegTrainer(
        instance_name,
        examples=examples,
        plan=plan,
        size=config.model_size,
        epochs=config.epochs,
        global_batch_size=config.global_batch_size,
        learning_rate=config.learning_rate,
        warmup_epochs=config.warmup_epochs,
        lr_decay=config.lr_decay,
        max_instances=config.max_instances,
        augment=config.augment,
        epoch_map=config.epoch_map,
        seed=config.seed,
        init_weights=config.init_weights,
        init_weights_sha256=config.init_weights_sha256,
        trust_pickle=config.trust_pickle,
        **common.training_flags(),
    )


def describe(config: SegStudyConfig) -> str:
    data = (
        f"rendered street scenes ({config.num_train} train / {config.num_val} val)"
        if config.source == "synthetic_streets"
        else f"`{config.source}`"
    )
    rate = config.learning_rate or "Ultralytics auto"
    start = (
        f"fine-tuned from `{os.path.basename(config.init_weights)}`"
        if config.init_weights
        else f"`{config.model_size}` from scratch"
    )
    return (
        f"Data: {data}, letterboxed to {config.image_size} px. Model: YOLOv8-seg {start}, "
        f"{config.epochs} epochs, batch {config.global_batch_size}, AdamW lr {rate}, "
        f"{config.lr_decay} decay after {config.warmup_epochs:g} warm-up epochs, EMA weights, "
        f"{'augmentation (flip, HSV, scale, translate)' if config.augment else 'no augmentation'}, "
        f"seed {config.seed}. "
        "Metrics: Ultralytics `val` semantics (conf 0.001, NMS IoU 0.7, 300 detections, 101-point AP, "
        "masks at 1/4 resolution)."
    )


def build(config: SegStudyConfig, root: str) -> tuple[Pipeline, str]:
    gen = example_gen(config)
    examples = gen.outputs["examples"]
    train = trainer(config, examples)
    evaluator = SegEvaluator(model=train.outputs["model"], examples=examples)
    report = SegReport(
        examples=examples,
        models=[train.outputs["model"]],
        metrics=[evaluator.outputs["metrics"]],
        labels='["model"]',
        settings=describe(config),
    )
    return Pipeline(
        NAME, [gen, train, evaluator, report], os.path.join(root, ".pipeline")
    ), report.id


def run(preset: str, output_dir: str) -> str:
    return common.run_study(sys.modules[__name__], preset, output_dir)
