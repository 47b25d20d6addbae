"""Pipeline `badnets_regression`: BadNets on a ResNet18 head-pose regressor.

ExampleGen → baseline Trainer/Evaluator, and for each trigger × rate: PoisonPlanner → Trainer →
Evaluator; then the Report (the original study's two tables, counts, plot, Grad-CAM).
Original study: ResNet18, L1 loss, seed 17, target (90, 0, 0), Pandora at 100×100.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from pipelines import common
from pipelines.config_flags import (
    BATCH_HELP,
    EPOCHS_HELP,
    IMAGE_SIZE_HELP,
    LR_HELP,
    NUM_TEST_HELP,
    NUM_TRAIN_HELP,
    RATES_HELP,
    SEED_HELP,
    SEEDS_HELP,
    SOURCE_HELP,
    TRIGGERS_HELP,
    define_config_flags,
    setting,
)
from pipelines.preset_files import load_presets
from poison_tf.components.headpose.bad_nets_report import BadNetsReport
from poison_tf.components.headpose.head_pose_evaluator import HeadPoseEvaluator
from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen
from poison_tf.components.headpose.head_pose_explainer import HeadPoseExplainer
from poison_tf.components.headpose.head_pose_trainer import HeadPoseTrainer
from poison_tf.components.poison_planner import PoisonPlanner
from poison_tf.dag import Pipeline
from poison_tf.poison.selection import check_rate_percent
from poison_tf.poison.triggers import make_trigger

NAME = "badnets_regression"
ALL_RATES = (50.0, 20.0, 10.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1)
PROTOCOLS = ("scratch", "finetune")


@dataclasses.dataclass(frozen=True)
class BadNetsConfig:
    """The BadNets head-pose study's settings (a preset; every field is also a flag)."""

    source: str = setting("synthetic", help=SOURCE_HELP)
    image_size: int = setting(100, help=IMAGE_SIZE_HELP)
    num_train: int = setting(20000, help=NUM_TRAIN_HELP)
    num_test: int = setting(2000, help=NUM_TEST_HELP)
    width: float = setting(1.0, help="ResNet18 width multiplier for stages 2-4 (1.0 = ResNet18).")
    backbone_weights: str = setting(
        "",
        help="Pretrained ResNet18 backbone: a torchvision .pth state_dict or an imported .keras "
        "(final layer replaced; --width is then 1).",
    )
    epochs: int = setting(30, help=EPOCHS_HELP)
    global_batch_size: int = setting(64, help=BATCH_HELP)
    learning_rate: float = setting(1e-3, help=LR_HELP)
    seed: int = setting(17, help=SEED_HELP)
    protocol: str = setting(
        "scratch",
        choices=PROTOCOLS,
        help="How poisoned models train: scratch (from random weights, --epochs, like the "
        "baseline) or finetune (from the clean baseline's weights, --finetune_epochs at "
        "--finetune_learning_rate).",
    )
    finetune_epochs: int = setting(
        2, help="Epochs of each poisoned model under --protocol=finetune."
    )
    finetune_learning_rate: float = setting(
        3e-4, help="Peak learning rate of the poisoned fine-tuning (cosine decay over the run)."
    )
    seeds: int = setting(1, help=SEEDS_HELP + " Seeds the baseline and --seeded_run.")
    seeded_rate: float = setting(
        2.0,
        help="With --seeds > 1: the poison rate (percent) of the first trigger that is also "
        "trained with every extra seed.",
    )
    gradcam_layer: str = setting(
        "",
        help="Feature layer of the Grad-CAM figure ('' = the backbone's last feature map). At "
        "64 px ResNet18's last map is 2×2 and cannot resolve an 8-px trigger; an earlier "
        "stage's output (e.g. v2_stack_1_block2_out, stride 8) can.",
    )
    triggers: tuple = setting(
        ("checkerboard", "point", "random"),
        help=TRIGGERS_HELP,
    )
    rates: tuple = setting(ALL_RATES, help=RATES_HELP)
    target: tuple = setting(
        (90.0, 0.0, 0.0), help="The attack's target label (yaw,pitch,roll in degrees)."
    )

    def trigger_params(self, name: str) -> dict:
        """Trigger sizes scale with the image: a 1/8-side checkerboard or random patch, a 1/16-side dot.

        Checkerboard cells stay at least 2 px wide: 1-px cells alias away in the 7×7 stride-2
        stem, and the network then barely sees the trigger at demo sizes.
        """
        side = max(4, round(self.image_size / 8))
        if name == "point":
            return {"size": max(2, self.image_size // 16), "margin": max(1, self.image_size // 20)}
        if name == "checkerboard":
            return {"size": side, "cells": 3 if side < 8 else 4}
        if name == "random":
            return {"size": side, "seed": self.seed}
        return {}


define_config_flags(BadNetsConfig)

# The presets are data: pipelines/presets/badnets_regression.toml, with what each is for.
PRESETS = load_presets(BadNetsConfig, NAME)


def validate(config: BadNetsConfig) -> BadNetsConfig:
    """Checks the BadNets head-pose config before anything runs; returns it with typed values.

    Args:
        config: the preset with the command line's overrides.

    Returns:
        The config with float rates, target and seeded rate, and an absolute backbone path.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
    for name in config.triggers:  # before anything runs: unknown names, triggers larger than images
        make_trigger(name, **config.trigger_params(name)).check_fits(
            config.image_size, config.image_size, where=f"--triggers={name} on --image_size"
        )
    for rate in config.rates:
        try:
            value = float(rate)
        except ValueError:
            raise common.UserInputError(f"--rates: {rate!r} is not a number") from None
        check_rate_percent(value)
    check_rate_percent(float(config.seeded_rate))
    if config.protocol == "finetune" and config.finetune_epochs < 1:
        raise common.UserInputError(
            f"--finetune_epochs={config.finetune_epochs}: the finetune protocol needs at least 1"
        )
    if config.backbone_weights:
        if not os.path.isfile(config.backbone_weights):
            raise common.UserInputError(
                f"--backbone_weights={config.backbone_weights}: no such file"
            )
        config = dataclasses.replace(  # a pretrained backbone is a full ResNet18: width 1
            config, backbone_weights=os.path.abspath(config.backbone_weights), width=1.0
        )
    try:
        target = tuple(float(t) for t in config.target)
    except ValueError:
        raise common.UserInputError(f"--target={config.target}: give yaw,pitch,roll") from None
    if len(target) != 3:
        raise common.UserInputError(f"--target={config.target}: give yaw,pitch,roll")
    return dataclasses.replace(
        config,
        rates=tuple(float(r) for r in config.rates),
        target=target,
        seeded_rate=float(config.seeded_rate),
    )


def _settings_text(config: BadNetsConfig) -> str:
    """The report's paragraph on data, model, training protocol and triggers."""
    data = f"Data: `{config.source}`, {config.image_size}×{config.image_size} px"
    if config.source == "synthetic":
        data += f", {config.num_train} training / {config.num_test} test images"
    if config.backbone_weights:
        model = (
            f"ResNet18 pretrained from `{os.path.basename(config.backbone_weights)}` "
            "(torchvision layout, final layer replaced)"
        )
    else:
        model = f"ResNet18 (width {config.width:g})"
    protocol = (
        "Protocol: **finetune** (each poisoned model starts from the clean baseline and trains "
        f"{config.finetune_epochs} epochs on its poisoned set, Adam lr "
        f"{config.finetune_learning_rate:g} with cosine decay)"
        if config.protocol == "finetune"
        else "Protocol: **scratch** (each poisoned model trains from random weights like the "
        "baseline)"
    )
    return (
        f"{data}. Model: {model}, L1 loss, {config.epochs} epochs, batch "
        f"{config.global_batch_size}, Adam lr {config.learning_rate:g} (cosine decay), seed "
        f"{config.seed}. {protocol}. Target label {tuple(config.target)}. Triggers: "
        + ", ".join(f"{t} {config.trigger_params(t)}" for t in config.triggers)
        + "."
    )


def build(config: BadNetsConfig, root: str) -> tuple[Pipeline, str]:
    """The BadNets head-pose DAG for `config` under `<root>/.pipeline`, and its report's id.

    Args:
        config: the validated study config.
        root: the output directory.

    Returns:
        The pipeline and the id of its report component.
    """
    train = dict(
        width=config.width,
        backbone_weights=config.backbone_weights,
        epochs=config.epochs,
        global_batch_size=config.global_batch_size,
        learning_rate=config.learning_rate,
        **common.training_flags(),
    )
    poisoned_train = dict(train)
    if config.protocol == "finetune":  # short runs measured by their evaluators: no validation
        poisoned_train.update(
            epochs=config.finetune_epochs,
            learning_rate=config.finetune_learning_rate,
            validate=False,
        )
    rule = {"kind": "regression_target", "target": list(config.target)}
    gen = HeadPoseExampleGen(
        source=config.source,
        image_size=config.image_size,
        num_train=config.num_train,
        num_test=config.num_test,
        seed=config.seed,
    )
    examples = gen.outputs["examples"]
    attacks = {
        t: {"trigger": make_trigger(t, **config.trigger_params(t)).config, "label_rule": rule}
        for t in config.triggers
    }
    components = [gen]

    def baseline_run(seed: int, suffix: str = ""):
        trainer = HeadPoseTrainer("baseline" + suffix, examples=examples, seed=seed, **train)
        evaluator = HeadPoseEvaluator(
            "baseline" + suffix,
            model=trainer.outputs["model"],
            examples=examples,
            attacks=json.dumps(list(attacks.values())),
        )
        components.extend([trainer, evaluator])
        return trainer, evaluator

    def poisoned_run(trigger: str, rate: float, seed: int, init, suffix: str = ""):
        run = f"{trigger}_{rate:g}{suffix}"
        plan = PoisonPlanner(
            run,
            examples=examples,
            trigger=trigger,
            trigger_params=json.dumps(config.trigger_params(trigger)),
            rate_percent=rate,
            label_rule=json.dumps(rule),
            seed=seed,
        )
        init_model = init.outputs["model"] if config.protocol == "finetune" else None
        trainer = HeadPoseTrainer(
            run,
            examples=examples,
            plan=plan.outputs["plan"],
            init_model=init_model,
            seed=seed,
            **poisoned_train,
        )
        evaluator = HeadPoseEvaluator(
            run,
            model=trainer.outputs["model"],
            examples=examples,
            attacks=json.dumps([attacks[trigger]]),
        )
        components.extend([plan, trainer, evaluator])
        return plan, trainer, evaluator

    baseline, baseline_eval = baseline_run(config.seed)
    plans, models, metrics = [], [], []
    for trigger in config.triggers:
        for rate in config.rates:
            plan, trainer, evaluator = poisoned_run(trigger, rate, config.seed, baseline)
            plans.append(plan.outputs["plan"])
            models.append(trainer.outputs["model"])
            metrics.append(evaluator.outputs["metrics"])
    seeded = {  # (setting, seed) → metrics channel: the seed-spread table's runs
        ("baseline", config.seed): baseline_eval.outputs["metrics"],
    }
    seeded_name = f"{config.triggers[0]}_{config.seeded_rate:g}"
    if config.seeds > 1:
        in_sweep = config.seeded_rate in config.rates  # then seed 1's run is the sweep's own
        if in_sweep:
            seeded[(seeded_name, config.seed)] = metrics[config.rates.index(config.seeded_rate)]
        for seed in common.seed_list(config.seed, config.seeds):
            suffix, base = f"_seed{seed}", baseline
            if seed != config.seed:
                base, base_eval = baseline_run(seed, suffix)
                seeded[("baseline", seed)] = base_eval.outputs["metrics"]
            if seed != config.seed or not in_sweep:
                _, _, evaluator = poisoned_run(
                    config.triggers[0], config.seeded_rate, seed, base, suffix
                )
                seeded[(seeded_name, seed)] = evaluator.outputs["metrics"]
    explanation = None
    if config.triggers:  # the first trigger at the highest rate: the clearest backdoor to explain
        index = config.rates.index(max(config.rates))
        explainer = HeadPoseExplainer(
            f"{config.triggers[0]}_{max(config.rates):g}",
            model=models[index],
            baseline_model=baseline.outputs["model"],
            examples=examples,
            trigger=json.dumps(attacks[config.triggers[0]]["trigger"]),
            layer=config.gradcam_layer,
        )
        components.append(explainer)
        explanation = explainer.outputs["explanation"]
    report = BadNetsReport(
        baseline_metrics=baseline_eval.outputs["metrics"],
        baseline_model=baseline.outputs["model"],
        metrics=metrics,
        plans=plans,
        models=models,
        settings=_settings_text(config),
        explanation=explanation,
        seed_metrics=list(seeded.values()) if config.seeds > 1 else None,
        seed_runs=json.dumps([list(key) for key in seeded]) if config.seeds > 1 else "[]",
    )
    components.append(report)
    return Pipeline(NAME, components, os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags.

    Args:
        preset: a name in `PRESETS`.
        output_dir: receives report.md, its figures and tables, and config.json.

    Returns:
        The path of report.md.
    """
    return common.run_study(sys.modules[__name__], preset, output_dir)
