"""Pipeline `adversarial_patch`: a printable k×k grid patch against an image classifier.

PatchExampleGen → victim (PatchVictimTrainer, or PatchVictimImporter for `--model=file`) →
one PatchOptimizer per patch area of the sweep → PatchEvaluator (patch vs random-colour
control, success vs area) → PatchExplainer (Grad-CAM, clean vs patched) → PatchReport.
Original study: ResNet50, 10×10 cells, 15 % of the image, random placement, targeted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from pipelines import common
from pipelines.adversarial_patch_presets import PRESETS, PatchStudyConfig  # noqa: F401 (run_study reads PRESETS)
from poison_tf.attacks.grid_patch import PatchGeometry
from poison_tf.components.patch.patch_evaluator import PatchEvaluator
from poison_tf.components.patch.patch_example_gen import PatchExampleGen
from poison_tf.components.patch.patch_explainer import PatchExplainer, check_gradcam_layer
from poison_tf.components.patch.patch_optimizer import PatchOptimizer, parse_box
from poison_tf.components.patch.patch_report import PatchReport
from poison_tf.components.patch.patch_victim_importer import PatchVictimImporter
from poison_tf.components.patch.patch_victim_trainer import PatchVictimTrainer
from poison_tf.dag import Pipeline

NAME = "adversarial_patch"


def validate(config: PatchStudyConfig) -> PatchStudyConfig:
    """Checks the adversarial patch config before anything runs; returns it with typed values.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
    if config.victim_model:
        config = dataclasses.replace(config, model=config.victim_model, victim_model="")
    for area in config.patch_areas:
        try:
            float(area)
        except ValueError:
            raise common.UserInputError(f"--patch_areas: {area!r} is not a number") from None
    config = dataclasses.replace(config, patch_areas=tuple(float(a) for a in config.patch_areas))
    box = parse_box(config.keep_clear)
    size = config.image_size
    for fraction in [config.patch_fraction, *(a / 100 for a in config.patch_areas)]:
        PatchGeometry(size, size, fraction, config.patch_cells, box).check(
            f"{NAME} ({fraction:.0%} area)"
        )
    if config.continues and not (config.weights or config.model):
        raise common.UserInputError(
            f"--weights is required: this preset continues the {config.continues} "
            f"preset's victim at {size} px (pass that run's victim.keras)"
        )
    if config.weights and not os.path.isfile(config.weights):
        raise common.UserInputError(f"--weights={config.weights}: no such file")
    if config.target_class < -1:
        raise common.UserInputError(
            f"--target_class={config.target_class} must be a class id (or -1: untargeted)"
        )
    if config.model and not os.path.isfile(config.model):
        raise common.UserInputError(
            f"--victim_model={config.model}: no such file (import one first, e.g. "
            f"poison-tf-import --source=efficientnet_lite0 --output={config.model})"
        )
    if config.model:
        from poison_tf.attacks.patch_optimizer import check_classifier
        from poison_tf.io.model_loading import load_hackml_model

        model = load_hackml_model(config.model, unsafe=config.unsafe_deserialization)
        target = None if config.target_class == -1 else config.target_class
        check_classifier(model, (size, size, 3), target, f"--model={config.model}")
        check_gradcam_layer(model, config.gradcam_layer or None)
    elif config.source == "synthetic" and config.target_class >= config.num_classes:
        raise common.UserInputError(
            f"--target_class={config.target_class} is out of range for {config.num_classes} classes"
        )
    return config


def seeded_attack(config: PatchStudyConfig, examples, seed: int, suffix: str):
    """The seed-dependent part of the study: victim, one optimiser per area, the evaluator."""
    if config.model:
        victim = PatchVictimImporter(
            "imported" + suffix if suffix else None,
            model_file=os.path.abspath(config.model),
            unsafe=config.unsafe_deserialization,
        )
        victim_text = f"Victim: `{config.model}`."
    else:
        victim = PatchVictimTrainer(
            "victim" + suffix if suffix else None,
            examples=examples,
            arch=config.arch,
            weights=config.weights,
            filters=config.filters,
            pooling=config.pooling,
            flip=config.flip,
            epochs=config.epochs,
            lr_decay=config.lr_decay,
            global_batch_size=config.global_batch_size,
            learning_rate=config.learning_rate,
            seed=seed,
            **common.training_flags(),
        )
        victim_text = (
            f"Victim trained here: {config.arch}"
            + (f" (from {config.weights})" if config.weights else "")
            + f", {config.epochs} epochs, batch {config.global_batch_size}, Adam lr {config.learning_rate:g}"
            + (f" ({config.lr_decay} decay to 5 %)." if config.lr_decay != "constant" else ".")
        )
    model = victim.outputs["model"]
    components = [victim]
    patches, main = [], None
    for fraction in config.fractions:
        optimizer = PatchOptimizer(
            f"{fraction * 100:g}pct{suffix}",
            model=model,
            examples=examples,
            target_class=config.target_class,
            patch_fraction=fraction,
            patch_cells=config.patch_cells,
            keep_clear=config.keep_clear,
            steps=config.patch_steps,
            batch_size=config.patch_batch_size,
            patch_optimizer=config.patch_optimizer,
            patch_learning_rate=config.patch_learning_rate,
            patch_lr_decay=config.patch_lr_decay,
            patch_loss=config.patch_loss,
            eot=config.eot,
            max_images=config.optimise_images,
            seed=seed,
            strategy=common.FLAGS.strategy,
        )
        components.append(optimizer)
        patches.append(optimizer.outputs["patch"])
        if abs(fraction - config.patch_fraction) < 1e-6:
            main = optimizer.outputs["patch"]
    evaluator = PatchEvaluator(
        "main" + suffix if suffix else None,
        model=model,
        examples=examples,
        patches=patches,
        max_images=config.eval_images,
        seed=seed,
        eot=config.eval_eot,
    )
    components.append(evaluator)
    built = dict(components=components, metrics=evaluator.outputs["metrics"], model=model)
    return built | {"main": main}, victim_text


def build(config: PatchStudyConfig, root: str) -> tuple[Pipeline, str]:
    """The adversarial patch DAG for `config` under `<root>/.pipeline`, and its report's id."""
    gen = PatchExampleGen(**common.parameters_for(PatchExampleGen, config))
    examples = gen.outputs["examples"]
    components, all_metrics, seeds, first = [gen], [], [], None
    for offset, seed in enumerate(common.seed_list(config.seed, config.seeds)):
        suffix = f"_seed{seed}" if offset else ""  # the first seed keeps the single-run ids
        built, victim_text = seeded_attack(config, examples, seed, suffix)
        components += built["components"]
        all_metrics.append(built["metrics"])
        seeds.append(seed)
        first = first or built
    model, main = first["model"], first["main"]
    explainer = PatchExplainer(
        model=model,
        examples=examples,
        patch=main,
        gradcam_layer=config.gradcam_layer,
        num_images=config.explain_images,
        seed=config.seed,
    )
    source = (
        f"Data: `{config.source}`, {config.image_size}×{config.image_size} px"
        + (
            f", {config.num_classes} classes, {config.num_train} training / {config.num_test} test images"
            if config.source == "synthetic"
            else ""
        )
        + ". "
    )
    if config.seeds > 1:
        victim_text += f" Seeds: {', '.join(map(str, seeds))} (victim, patches, evaluation)."
    report = PatchReport(
        metrics=all_metrics,
        seeds=json.dumps(seeds),
        patch=main,
        model=model,
        explanation=explainer.outputs["explanation"],
        settings=source + victim_text,
    )
    components += [explainer, report]
    return Pipeline(NAME, components, os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
