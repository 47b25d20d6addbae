"""Pipeline `clean_image_backdoor`: label-only poisoning of a YOLOv8-seg, base vs poisoned models.

SegExampleGen → SegTrainer (base) → CleanImagePairSelector (t-SNE of the base model's instance features,
plus `--pairs`) → per pair: CleanImagePlanner (relabel `ratio` of the host's instances as the
target, images untouched) → SegTrainer (poisoned, same seed and schedule) → SegEvaluator
(clean val table, attack success, table against poisoned val labels); the base model is also
evaluated against each plan (baseline success) → CleanImageReport. ExampleGen and the base model
are shared by every pair through the component cache.
Original study: ../shared/studies/000_*.txt and 001_*.txt (2 t-SNE pairs + 2 hand-picked, 0.5).
"""

from __future__ import annotations

import dataclasses
import os
import sys

from pipelines import common
from pipelines import instance_segmentation as seg
from pipelines.config_flags import define_config_flags, setting
from poison_tf.attacks.class_pairs import check_ratio, parse_pairs
from poison_tf.components.clean_image.clean_image_pair_selector import CleanImagePairSelector
from poison_tf.components.clean_image.clean_image_planner import CleanImagePlanner
from poison_tf.components.clean_image.clean_image_report import CleanImageReport
from poison_tf.components.segmentation.seg_evaluator import SegEvaluator
from poison_tf.dag import Pipeline

NAME = "clean_image_backdoor"


@dataclasses.dataclass(frozen=True)
class CleanImageConfig(seg.SegStudyConfig):
    """The clean-image backdoor's settings: the segmentation study's and the attack's."""

    pairs: str = setting(
        "", help="Hand-picked pairs host:target,… by class name (e.g. 'bridge:parking sign')."
    )
    num_tsne_pairs: int = setting(2, help="How many t-SNE pairs to add to --pairs.")
    ratio: float = setting(
        0.5, help="Share of the host's training instances relabelled as the target, in (0, 1]."
    )
    relabel_mode: str = setting(
        "instances",
        help="Relabel chosen instances, or whole images' hosts.",
        choices=("instances", "images"),
    )
    tsne_space: str = setting(
        "features",
        help="Rank pairs by feature-space or t-SNE-plane distance.",
        choices=("features", "tsne"),
    )
    min_host_instances: int = setting(
        1, help="t-SNE pairs only with a host of at least N training instances."
    )


define_config_flags(CleanImageConfig)


PRESETS = {
    # Under 4 minutes on 2 CPU cores: street scenes at 96 px, the tiny model, the closest t-SNE pair.
    "demo": CleanImageConfig(
        image_size=96,
        num_train=240,
        num_val=64,
        model_size="tiny",
        epochs=20,
        global_batch_size=16,
        learning_rate=0.01,
        warmup_epochs=1.0,
        num_tsne_pairs=1,
    ),
    # Real data on CPU: coco128-seg, whose data.yaml trains and validates on the same 128 images. A
    # from-scratch model with augmentation barely detects anything after an hour of this CPU (tiny
    # 256 px 40 epochs: Box mAP50 0.018; n 320 px 60 epochs: 0.137), so no relabelling could show.
    # Without augmentation the tiny model at 160 px fits its training images in 150 epochs (a few
    # minutes per model), which is what this check measures: what label poisoning does to what a
    # model learned. Hosts of t-SNE pairs need >= 20 instances (10 relabelled at ratio 0.5);
    # plus the hand-picked street pair car → truck.
    "coco128": CleanImageConfig(
        source="yolo:../shared/datasets/coco128-seg/data.yaml",
        image_size=160,
        model_size="tiny",
        epochs=150,
        global_batch_size=4,
        learning_rate=0.01,
        warmup_epochs=2.0,
        augment=False,
        epoch_map=False,
        num_tsne_pairs=1,
        min_host_instances=20,
        pairs="car:truck",
    ),
    # The original study: 720 px (→ 736), 50 epochs, 2 t-SNE + 2 hand-picked pairs. Sized for a GPU.
    "study": CleanImageConfig(
        image_size=736,
        num_train=3500,
        num_val=500,
        model_size="n",
        epochs=50,
        global_batch_size=16,
        pairs="traffic sign:parking sign,bus:train",
    ),
}


def class_names(source: str) -> list[str] | None:
    """The data set's class names when they can be read before anything runs."""
    if source == "synthetic_streets":
        from poison_tf.data.synthetic_streets import CLASS_NAMES

        return list(CLASS_NAMES)
    if source.startswith("yolo:"):
        from poison_tf.data.yolo_seg import read_data_yaml

        return read_data_yaml(source[len("yolo:") :]).names
    return None


def validate(config: CleanImageConfig) -> CleanImageConfig:
    """Checks the clean-image backdoor config before anything runs; returns it with typed values.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
    config = seg.validate(config)  # (it fingerprints --init_weights)
    check_ratio(config.ratio)
    if config.num_tsne_pairs < 0:
        raise common.UserInputError(f"--num_tsne_pairs={config.num_tsne_pairs}: must be >= 0")
    names = class_names(config.source)
    given = parse_pairs(config.pairs, names) if config.pairs and names else []
    if names:  # canonical names, repeats dropped: the DAG gets one poisoned model per pair
        config = dataclasses.replace(
            config, pairs=",".join(f"{p.host_name}:{p.target_name}" for p in given)
        )
    if not given and not config.num_tsne_pairs:
        raise common.UserInputError("no pair to poison: give --pairs or --num_tsne_pairs >= 1")
    if given and config.source.startswith(
        "yolo:"
    ):  # fail before training, not after the base model
        from poison_tf.data.yolo_seg import load_split

        _, samples = load_split(config.source[len("yolo:") :], "train")
        present = {int(c) for sample in samples for c in sample.classes}
        for pair in given:
            if pair.host not in present:
                raise common.UserInputError(
                    f"--pairs: host class {pair.host_name!r} has no instances in the "
                    "training split, so there is nothing to relabel; pick another host"
                )
    return config


def build(config: CleanImageConfig, root: str) -> tuple[Pipeline, str]:
    """The clean-image backdoor DAG for `config` under `<root>/.pipeline`, and its report's id."""
    gen = seg.example_gen(config)
    examples = gen.outputs["examples"]
    base = seg.trainer(config, examples, instance_name="base")
    base_model = base.outputs["model"]
    # No COCO/YOLO export here: the study compares tables (export every model with poison-tf-seg-val).
    base_eval = SegEvaluator("base", model=base_model, examples=examples, export=False)
    selector = CleanImagePairSelector(
        examples=examples,
        model=base_model,
        pairs=config.pairs,
        num_tsne_pairs=config.num_tsne_pairs,
        tsne_space=config.tsne_space,
        min_host_instances=config.min_host_instances,
        seed=config.seed,
    )
    components = [gen, base, base_eval, selector]
    plans, models, metrics, base_attacks = [], [], [], []
    count = config.num_tsne_pairs + len({e.strip() for e in config.pairs.split(",") if e.strip()})
    for index in range(count):
        planner = CleanImagePlanner(
            f"pair{index}",
            examples=examples,
            pairs=selector.outputs["pairs"],
            index=index,
            ratio=config.ratio,
            mode=config.relabel_mode,
            seed=config.seed,
        )
        plan = planner.outputs["plan"]
        poisoned = seg.trainer(config, examples, plan=plan, instance_name=f"pair{index}")
        evaluator = SegEvaluator(
            f"pair{index}",
            model=poisoned.outputs["model"],
            examples=examples,
            plan=plan,
            export=False,
        )
        baseline = SegEvaluator(
            f"base_pair{index}", model=base_model, examples=examples, plan=plan, export=False
        )
        components += [planner, poisoned, evaluator, baseline]
        plans.append(plan)
        models.append(poisoned.outputs["model"])
        metrics.append(evaluator.outputs["metrics"])
        base_attacks.append(baseline.outputs["metrics"])
    settings = (
        seg.describe(config)
        + f" Poisoning: labels only, ratio {config.ratio:g} of the host's training "
        f"instances ({config.relabel_mode}), seed {config.seed}; {config.num_tsne_pairs} t-SNE pair(s)"
        + (f" + given `{config.pairs}`" if config.pairs else "")
        + "."
    )
    report = CleanImageReport(
        examples=examples,
        pairs=selector.outputs["pairs"],
        plans=plans,
        base_model=base_model,
        base_metrics=base_eval.outputs["metrics"],
        base_attacks=base_attacks,
        models=models,
        metrics=metrics,
        settings=settings,
    )
    components.append(report)
    return Pipeline(NAME, components, os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
