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
from pipelines.preset_files import load_presets
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

# The presets are data: pipelines/presets/clean_image_backdoor.toml, with what each is for.
PRESETS = load_presets(CleanImageConfig, NAME)


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
