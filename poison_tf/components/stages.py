"""`poison-tf-<stage>`: every component as its own absl program, run alone on artefact URIs.

So that any outside orchestrator (a cluster scheduler, Airflow, a shell loop) can run one stage:

    poison-tf-poison --examples=runs/x/examples --trigger=checkerboard \
        --trigger_params='{"size": 10}' --rate_percent=10 \
        --label_rule='{"kind": "regression_target", "target": [90, 0, 0]}' --output_dir=runs/x

The flags of a stage are made from its components' specs: one flag per input channel (a list of
artefact URIs) and one per parameter (only the flags given are passed; the rest keep the
spec's default). They are defined when the program starts rather than at import time because
each program carries the flags of its own stage only. `--flagfile` works as in every absl
program. The program prints the output artefacts as JSON on stdout (progress goes to
stderr); re-running it with the same inputs and parameters reuses the finished execution
under `--output_dir`.
"""

from __future__ import annotations

from poison_tf.components.clean_image.clean_image_pair_selector import CleanImagePairSelector
from poison_tf.components.clean_image.clean_image_planner import CleanImagePlanner
from poison_tf.components.clean_image.clean_image_report import CleanImageReport
from poison_tf.components.faces.detection_evaluator import DetectionEvaluator
from poison_tf.components.faces.detection_report import DetectionReport
from poison_tf.components.faces.detector_fitter import DetectorFitter
from poison_tf.components.faces.face_classifier_trainer import FaceClassifierTrainer
from poison_tf.components.faces.face_example_gen import FaceExampleGen
from poison_tf.components.faces.model_defence import ModelDefence
from poison_tf.components.headpose.bad_nets_report import BadNetsReport
from poison_tf.components.headpose.head_pose_evaluator import HeadPoseEvaluator
from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen
from poison_tf.components.headpose.head_pose_explainer import HeadPoseExplainer
from poison_tf.components.headpose.head_pose_trainer import HeadPoseTrainer
from poison_tf.components.patch.patch_evaluator import PatchEvaluator
from poison_tf.components.patch.patch_example_gen import PatchExampleGen
from poison_tf.components.patch.patch_explainer import PatchExplainer
from poison_tf.components.patch.patch_optimizer import PatchOptimizer
from poison_tf.components.patch.patch_report import PatchReport
from poison_tf.components.patch.patch_victim_importer import PatchVictimImporter
from poison_tf.components.patch.patch_victim_trainer import PatchVictimTrainer
from poison_tf.components.poison_planner import PoisonPlanner
from poison_tf.components.segmentation.seg_evaluator import SegEvaluator
from poison_tf.components.segmentation.seg_example_gen import SegExampleGen
from poison_tf.components.segmentation.seg_report import SegReport
from poison_tf.components.segmentation.seg_trainer import SegTrainer
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.stage_cli import run_program
from poison_tf.train.determinism import enable_determinism
from poison_tf.train.strategy import resolve_strategy

# stage → {--component value: class}; the first entry is the default. Values name the study.
STAGES: dict[str, dict[str, type[BaseComponent]]] = {
    "example_gen": {
        "headpose": HeadPoseExampleGen,
        "patch": PatchExampleGen,
        "face": FaceExampleGen,
        "seg": SegExampleGen,
    },
    "poison": {"planner": PoisonPlanner, "patch": PatchOptimizer, "clean_image": CleanImagePlanner},
    "train": {
        "headpose": HeadPoseTrainer,
        "patch_victim": PatchVictimTrainer,
        "patch_victim_import": PatchVictimImporter,
        "face": FaceClassifierTrainer,
        "detector": DetectorFitter,
        "seg": SegTrainer,
    },
    "evaluate": {
        "headpose": HeadPoseEvaluator,
        "patch": PatchEvaluator,
        "detection": DetectionEvaluator,
        "model_defence": ModelDefence,
        "seg": SegEvaluator,
    },
    "explain": {
        "headpose": HeadPoseExplainer,
        "patch": PatchExplainer,
        "class_pairs": CleanImagePairSelector,
    },
    "report": {
        "badnets": BadNetsReport,
        "patch": PatchReport,
        "detection": DetectionReport,
        "seg": SegReport,
        "clean_image": CleanImageReport,
    },
}

# --component values of earlier releases, still accepted.
ALIASES: dict[str, dict[str, str]] = {
    "example_gen": {"classifier": "patch"},
    "train": {
        "regressor": "headpose",
        "victim": "patch_victim",
        "import_classifier": "patch_victim_import",
        "classifier": "face",
    },
    "evaluate": {"regressor": "headpose"},
    "explain": {"regressor": "headpose", "classifier": "patch"},
}


def _prepare(params: dict) -> None:
    """Fixed thread pools and multi_worker must exist before any other TensorFlow op."""
    if params.get("deterministic"):
        enable_determinism()
    if "strategy" in params:
        resolve_strategy(params["strategy"])


def _program(stage: str) -> None:
    run_program(stage, STAGES[stage], ALIASES.get(stage), prepare=_prepare)


def example_gen() -> None:
    """`poison-tf-example-gen`: a data source → an Examples artefact (flags: `--helpfull`)."""
    _program("example_gen")


def poison() -> None:
    """`poison-tf-poison`: examples → a poison plan, relabel plan or patch (flags: `--helpfull`)."""
    _program("poison")


def train() -> None:
    """`poison-tf-train`: examples (+ plan) → a model artefact (flags: `--helpfull`)."""
    _program("train")


def evaluate() -> None:
    """`poison-tf-evaluate`: a model + examples → metrics (flags: `--helpfull`)."""
    _program("evaluate")


def explain() -> None:
    """`poison-tf-explain`: Grad-CAM of a model, or the t-SNE class pairs (flags: `--helpfull`)."""
    _program("explain")


def report() -> None:
    """`poison-tf-report`: metric artefacts → a study report (flags: `--helpfull`)."""
    _program("report")
