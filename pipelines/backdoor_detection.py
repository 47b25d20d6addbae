"""Pipeline `backdoor_detection`: BadNets face triggers on a DeepID classifier, detectors and defences.

FaceExampleGen → for each face trigger: PoisonPlanner (all-to-one, target 0, target class
excluded) → FaceClassifierTrainer → DetectorFitter per model-based detector (STRIP, fine-pruning,
Mahalanobis) → DetectionEvaluator; one VAE (model-independent) is fitted on clean validation
data and evaluated with every model; ModelDefence per BackdoorBench model defence (spectral
signatures, activation clustering, Neural Cleanse: the `backdoor_benchmark` code) on every
model, the filters scored against the model's plan; then the DetectionReport. Original study: CSAW-HackML-2020
(sunglasses / lipstick / eyebrows BadNets, VAE threshold mean + 1·std on clean validation).
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import sys

from pipelines import common
from pipelines.config_flags import (
    BATCH_HELP,
    DEFENCE_PARAMS_HELP,
    DEFENCES_HELP,
    EPOCHS_HELP,
    LR_HELP,
    SEED_HELP,
    SEEDS_HELP,
    SOURCE_HELP,
    TARGET_CLASS_HELP,
    TRIGGERS_HELP,
    define_config_flags,
    setting,
)
from pipelines.preset_files import load_presets
from poison_tf.components.faces.detection_evaluator import DetectionEvaluator
from poison_tf.components.faces.detection_report import DetectionReport
from poison_tf.components.faces.detector_fitter import KINDS, DetectorFitter
from poison_tf.components.faces.face_classifier_trainer import FaceClassifierTrainer
from poison_tf.components.faces.face_example_gen import FaceExampleGen
from poison_tf.components.faces.model_defence import ModelDefence
from poison_tf.components.poison_planner import PoisonPlanner
from poison_tf.dag import Pipeline, remote_fs, staging
from poison_tf.data.synthetic_faces import HEIGHT, WIDTH
from poison_tf.defences.model_defences import MODEL_DEFENCES, check_names
from poison_tf.poison.face_triggers import FACE_TRIGGERS, write_face_trigger
from poison_tf.poison.selection import check_rate_percent
from poison_tf.poison.triggers import make_trigger

NAME = "backdoor_detection"


@dataclasses.dataclass(frozen=True)
class DetectionConfig:
    """The backdoor detection study's settings (a preset; every field is also a flag)."""

    source: str = setting("synthetic", help=SOURCE_HELP)
    num_identities: int = setting(10, help="Synthetic: identities (lfw: keep the first N).")
    images_per_identity: int = setting(60, help="Synthetic: images per identity (lfw: at most).")
    epochs: int = setting(10, help=EPOCHS_HELP)
    global_batch_size: int = setting(32, help=BATCH_HELP)
    learning_rate: float = setting(1e-3, help=LR_HELP)
    seed: int = setting(17, help=SEED_HELP)
    rate_percent: float = setting(10.0, help="Poisoned share of the training split, in percent.")
    target_class: int = setting(0, help=TARGET_CLASS_HELP)
    triggers: tuple = setting(("sunglasses", "lipstick", "eyebrows"), help=TRIGGERS_HELP)
    detectors: tuple = setting(KINDS, help="Detectors to fit: vae,strip,fine_pruning,mahalanobis.")
    detector_params: dict = setting(
        default_factory=dict, flag=False, help="{detector: {keyword: value}} (preset only)."
    )
    defences: tuple = setting(
        MODEL_DEFENCES,
        help=DEFENCES_HELP,
    )
    defence_params: dict = setting(default_factory=dict, flag=False, help=DEFENCE_PARAMS_HELP)
    retrain_epochs: int = setting(
        -1, help="Epochs of retraining after a training-set filter (-1: --epochs; 0: none)."
    )
    defence_clean_images: int = setting(
        0, help="Neural Cleanse: a seeded sample of this many clean val images (0 = all)."
    )
    seeds: int = setting(1, help=SEEDS_HELP)


define_config_flags(DetectionConfig)

# The presets are data: pipelines/presets/backdoor_detection.toml, with what each is for.
PRESETS = load_presets(DetectionConfig, NAME)


def validate(config: DetectionConfig) -> DetectionConfig:
    """Checks the backdoor detection config before anything runs; returns it with typed values.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
    for name in config.triggers:
        if name not in FACE_TRIGGERS:
            raise common.UserInputError(
                f"--triggers={name}: choose from {', '.join(FACE_TRIGGERS)}"
            )
    for kind in config.detectors:
        if kind not in KINDS:
            raise common.UserInputError(f"--detectors={kind}: choose from {', '.join(KINDS)}")
    check_names(config.defences, MODEL_DEFENCES, "--defences")
    if not config.triggers or not config.detectors:
        raise common.UserInputError("--triggers and --detectors: give at least one of each")
    check_rate_percent(float(config.rate_percent))
    if config.defence_clean_images < 0:
        raise common.UserInputError(
            f"--defence_clean_images={config.defence_clean_images}: must be >= 0 (0 = all)"
        )
    return config


def _face_trigger(name: str, folder: str) -> dict:
    """Writes the trigger PNG into `folder`; returns its `image` trigger parameters. At a URI
    `folder` the PNG is written in the local mirror (PIL writes files) and uploaded, and the
    parameters name the URI, so a task on any node reads it (`load_rgba` reads URIs)."""
    stamp = write_face_trigger(name, staging.local_path(folder), HEIGHT, WIDTH)
    if remote_fs.is_uri(folder):
        uri = posixpath.join(folder, os.path.basename(stamp["path"]))
        if not remote_fs.exists(uri):  # the same bytes every time
            remote_fs.put_file(stamp["path"], uri)
        stamp["path"] = uri
    return stamp


def build(config: DetectionConfig, root: str) -> tuple[Pipeline, str]:
    """The backdoor detection DAG for `config` under `<root>/.pipeline`, and its report's id."""
    train = dict(
        epochs=config.epochs,
        global_batch_size=config.global_batch_size,
        learning_rate=config.learning_rate,
        **common.training_flags(),
    )
    gen = FaceExampleGen(
        source=config.source,
        num_identities=config.num_identities,
        images_per_identity=config.images_per_identity,
        seed=config.seed,
    )
    examples = gen.outputs["examples"]
    rule = json.dumps({"kind": "all_to_one", "target": [config.target_class]})
    components = [gen]
    metrics, models, seeds, defences = [], [], [], []
    epochs = config.epochs if config.retrain_epochs < 0 else config.retrain_epochs
    retrain = json.dumps(
        {
            "epochs": epochs,
            "batch_size": config.global_batch_size,
            "learning_rate": config.learning_rate,
            "optimizer": "adam",  # as FaceClassificationTask trains
        }
        if epochs > 0
        else {}
    )
    folder = os.path.join(root, ".pipeline", "triggers")
    stamps = {t: _face_trigger(t, folder) for t in config.triggers}
    configs = json.dumps({t: make_trigger("image", **p).config for t, p in stamps.items()})
    for offset, seed in enumerate(common.seed_list(config.seed, config.seeds)):
        suffix = f"_seed{seed}" if offset else ""  # the first seed keeps the single-run ids
        params = {
            k: json.dumps(
                common.reseeded(config.detector_params.get(k, {}), offset), sort_keys=True
            )
            for k in config.detectors
        }
        shared = []
        if "vae" in config.detectors:
            vae = DetectorFitter(
                f"vae{suffix}", examples=examples, kind="vae", params=params["vae"]
            )
            components.append(vae)
            shared.append(vae.outputs["detector"])
        for trigger in config.triggers:
            plan = PoisonPlanner(
                trigger + suffix,
                examples=examples,
                trigger="image",
                trigger_params=json.dumps(stamps[trigger]),
                rate_percent=float(config.rate_percent),
                label_rule=rule,
                seed=seed,
                exclude_target_class=True,
            )
            trainer = FaceClassifierTrainer(
                trigger + suffix, examples=examples, plan=plan.outputs["plan"], seed=seed, **train
            )
            model = trainer.outputs["model"]
            fitted = [
                DetectorFitter(
                    f"{trigger}_{kind}{suffix}",
                    examples=examples,
                    model=model,
                    kind=kind,
                    params=params[kind],
                )
                for kind in config.detectors
                if kind != "vae"
            ]
            evaluator = DetectionEvaluator(
                trigger + suffix,
                model=model,
                examples=examples,
                detectors=shared + [f.outputs["detector"] for f in fitted],
                triggers=configs,
                backdoor=trigger,
                target=config.target_class,
            )
            defended = []
            if config.defences:  # one ModelDefence per model runs every chosen defence
                chosen = {k: config.defence_params.get(k, {}) for k in config.defences}
                defended.append(
                    ModelDefence(
                        trigger + suffix,
                        examples=examples,
                        model=model,
                        plan=plan.outputs["plan"],
                        kinds=",".join(config.defences),
                        params=json.dumps(chosen, sort_keys=True),
                        retrain=retrain,
                        backdoor=trigger + suffix,
                        target=config.target_class,
                        clean_images=config.defence_clean_images,
                        seed=seed,
                    )
                )
            components += [plan, trainer, *fitted, evaluator, *defended]
            defences += [d.outputs["metrics"] for d in defended]
            metrics.append(evaluator.outputs["metrics"])
            models.append(model)
            seeds.append(seed)
    settings = (
        f"Data: `{config.source}`"
        + (
            f", {config.num_identities} identities × {config.images_per_identity} images"
            if config.source == "synthetic"
            else ""
        )
        + f", 55×47 RGB, split 60/20/20 per identity. Model: DeepID BadNet (HackML), sparse CE, "
        f"{config.epochs} epochs, batch {config.global_batch_size}, Adam lr {config.learning_rate:g}, "
        f"seed {config.seed}. Attack: {config.rate_percent:g} % of the training split (target class "
        f"excluded) stamped and relabelled {config.target_class}, one model per trigger. Detectors, fitted on "
        f"the clean validation split only: "
        + ", ".join(f"{k} {config.detector_params.get(k, {})}" for k in config.detectors)
        + ". Model defences (BackdoorBench's, on each model; filters on the training split as "
        f"the model saw it, retrained {epochs} epochs after; NC on clean validation): "
        + (", ".join(f"{k} {config.defence_params.get(k, {})}" for k in config.defences) or "none")
        + "."
    )
    if config.seeds > 1:
        settings += f" Seeds: {', '.join(map(str, seeds[:: len(config.triggers)]))} (plan, training, detectors)."
    report = DetectionReport(
        metrics=metrics,
        models=models,
        defences=defences,
        settings=settings,
        seeds=json.dumps(seeds),
    )
    components.append(report)
    return Pipeline(NAME, components, os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
