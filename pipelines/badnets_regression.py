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
    SEED_HELP,
    SOURCE_HELP,
    TRIGGERS_HELP,
    define_config_flags,
    setting,
)
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
    triggers: tuple = setting(
        ("checkerboard", "point", "random"),
        help=TRIGGERS_HELP,
    )
    rates: tuple = setting(
        ALL_RATES, help="Poison rates in percent of the training set, e.g. 50,20,10."
    )
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

PRESETS = {
    # Under 4 minutes on 2 CPU cores: 48-px images, a narrow ResNet18, 3 triggers × 3 rates.
    # It already shows the backdoor: RESULTS.md has the tables this preset produced.
    "demo": BadNetsConfig(
        image_size=48,
        num_train=1600,
        num_test=200,
        width=0.25,
        epochs=4,
        global_batch_size=32,
        learning_rate=3e-3,
        rates=(50.0, 20.0, 10.0),
    ),
    # The original study's setting, sized for a GPU: 100×100, full ResNet18, all nine rates.
    "full": BadNetsConfig(),
}


def validate(config: BadNetsConfig) -> BadNetsConfig:
    """Checks the BadNets head-pose config before anything runs; returns it with typed values.

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
    return dataclasses.replace(config, rates=tuple(float(r) for r in config.rates), target=target)


def build(config: BadNetsConfig, root: str) -> tuple[Pipeline, str]:
    """The BadNets head-pose DAG for `config` under `<root>/.pipeline`, and its report's id."""
    train = dict(
        width=config.width,
        backbone_weights=config.backbone_weights,
        epochs=config.epochs,
        global_batch_size=config.global_batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        **common.training_flags(),
    )
    rule = json.dumps({"kind": "regression_target", "target": list(config.target)})
    gen = HeadPoseExampleGen(
        source=config.source,
        image_size=config.image_size,
        num_train=config.num_train,
        num_test=config.num_test,
        seed=config.seed,
    )
    examples = gen.outputs["examples"]
    attacks = {
        t: {
            "trigger": make_trigger(t, **config.trigger_params(t)).config,
            "label_rule": json.loads(rule),
        }
        for t in config.triggers
    }
    baseline = HeadPoseTrainer("baseline", examples=examples, **train)
    baseline_eval = HeadPoseEvaluator(
        "baseline",
        model=baseline.outputs["model"],
        examples=examples,
        attacks=json.dumps(list(attacks.values())),
    )
    components = [gen, baseline, baseline_eval]
    plans, models, metrics = [], [], []
    explained = None  # the first trigger at the highest rate: the clearest backdoor to explain
    for trigger in config.triggers:
        for rate in config.rates:
            run = f"{trigger}_{rate:g}"
            plan = PoisonPlanner(
                run,
                examples=examples,
                trigger=trigger,
                trigger_params=json.dumps(config.trigger_params(trigger)),
                rate_percent=rate,
                label_rule=rule,
                seed=config.seed,
            )
            trainer = HeadPoseTrainer(run, examples=examples, plan=plan.outputs["plan"], **train)
            evaluator = HeadPoseEvaluator(
                run,
                model=trainer.outputs["model"],
                examples=examples,
                attacks=json.dumps([attacks[trigger]]),
            )
            components += [plan, trainer, evaluator]
            plans.append(plan.outputs["plan"])
            models.append(trainer.outputs["model"])
            metrics.append(evaluator.outputs["metrics"])
            if trigger == config.triggers[0] and rate == max(config.rates):
                explained = (run, trainer)
    settings = (
        f"Data: `{config.source}`, {config.image_size}×{config.image_size} px"
        + (
            f", {config.num_train} training / {config.num_test} test images"
            if config.source == "synthetic"
            else ""
        )
        + (
            f". Model: ResNet18 pretrained from `{os.path.basename(config.backbone_weights)}` (torchvision layout, final layer replaced)"
            if config.backbone_weights
            else f". Model: ResNet18 (width {config.width:g})"
        )
        + f", L1 loss, {config.epochs} epochs, batch "
        f"{config.global_batch_size}, Adam lr {config.learning_rate:g}, seed {config.seed}. "
        f"Target label {tuple(config.target)}. Triggers: "
        + ", ".join(f"{t} {config.trigger_params(t)}" for t in config.triggers)
        + "."
    )
    explanation = None
    if explained is not None:
        run, trainer = explained
        explainer = HeadPoseExplainer(
            run,
            model=trainer.outputs["model"],
            baseline_model=baseline.outputs["model"],
            examples=examples,
            trigger=json.dumps(attacks[config.triggers[0]]["trigger"]),
        )
        components.append(explainer)
        explanation = explainer.outputs["explanation"]
    report = BadNetsReport(
        baseline_metrics=baseline_eval.outputs["metrics"],
        baseline_model=baseline.outputs["model"],
        metrics=metrics,
        plans=plans,
        models=models,
        settings=settings,
        explanation=explanation,
    )
    components.append(report)
    return Pipeline(NAME, components, os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
