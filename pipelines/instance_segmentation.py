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

from pipelines import common
from pipelines.config_flags import (
    AUGMENT_HELP,
    BATCH_HELP,
    EPOCHS_HELP,
    IMAGE_SIZE_HELP,
    LR_DECAY_HELP,
    LR_DECAYS,
    LR_HELP,
    NUM_TRAIN_HELP,
    SEED_HELP,
    SOURCE_HELP,
    define_config_flags,
    setting,
)
from pipelines.preset_files import load_presets
from poison_tf.components.segmentation.seg_evaluator import SegEvaluator
from poison_tf.components.segmentation.seg_example_gen import SegExampleGen
from poison_tf.components.segmentation.seg_report import SegReport
from poison_tf.components.segmentation.seg_trainer import SegTrainer
from poison_tf.dag import Pipeline

NAME = "instance_segmentation"


@dataclasses.dataclass(frozen=True)
class SegStudyConfig:
    """The instance segmentation study's settings (a preset; every field is also a flag)."""

    source: str = setting("synthetic_streets", help=SOURCE_HELP)
    image_size: int = setting(128, help=IMAGE_SIZE_HELP)
    num_train: int = setting(400, help=NUM_TRAIN_HELP)
    num_val: int = setting(100, help="Synthetic: validation images.")
    model_size: str = setting("n", help="YOLOv8-seg size: tiny, n, s, m, l, x.")
    epochs: int = setting(50, help=EPOCHS_HELP)
    global_batch_size: int = setting(16, help=BATCH_HELP)
    learning_rate: float = setting(
        0.0, help=LR_HELP + " 0: Ultralytics' optimizer=auto rate for the class count."
    )
    warmup_epochs: float = setting(3.0, help="Segmentation: epochs of learning-rate warm-up.")
    lr_decay: str = setting("linear", help=LR_DECAY_HELP, choices=LR_DECAYS)
    augment: bool = setting(True, help=AUGMENT_HELP)
    max_instances: int = setting(100, help="Instances kept per image (largest first).")
    epoch_map: bool = setting(
        True, help="Validate (mAP) after every epoch as Ultralytics does; off: val losses only."
    )
    seed: int = setting(0, help=SEED_HELP)
    init_weights: str = setting(
        "",
        help="Fine-tune from this YOLOv8-seg: an Ultralytics .pt or a .keras (its size wins over "
        "--model_size; another class count re-initialises the class head). Empty: from scratch.",
    )
    trust_pickle: bool = setting(
        False,
        help="Allow a full-object Ultralytics .pt for --init_weights (unpickling runs its code).",
        allow_override=True,  # the same flag as poison-tf-import's
    )
    init_weights_sha256: str = setting(
        "", help="Set by validate(): the digest of --init_weights.", flag=False
    )


define_config_flags(SegStudyConfig)

# The presets are data: pipelines/presets/instance_segmentation.toml, with what each is for.
PRESETS = load_presets(SegStudyConfig, NAME)


def validate(config: SegStudyConfig) -> SegStudyConfig:
    """Checks the segmentation config before anything runs; returns it with typed values.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
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
    """The segmentation DAG for `config` under `<root>/.pipeline`, and its report's id."""
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
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
