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

import contextlib
import json
import sys

from absl import flags

from poison_tf import cli
from poison_tf.components.badnets_report import BadNetsReport
from poison_tf.components.base import BaseComponent
from poison_tf.components.classifier_example_gen import ClassifierExampleGen
from poison_tf.components.classifier_explainer import ClassifierExplainer
from poison_tf.components.classifier_importer import ClassifierImporter
from poison_tf.components.classifier_trainer import ClassifierTrainer
from poison_tf.components.clean_image_planner import CleanImagePlanner
from poison_tf.components.clean_image_report import CleanImageReport
from poison_tf.components.detection_evaluator import DetectionEvaluator
from poison_tf.components.detection_report import DetectionReport
from poison_tf.components.detector_fitter import DetectorFitter
from poison_tf.components.face_example_gen import FaceExampleGen
from poison_tf.components.headpose_example_gen import HeadPoseExampleGen
from poison_tf.components.pair_selector import PairSelector
from poison_tf.components.patch_evaluator import PatchEvaluator
from poison_tf.components.patch_optimizer import PatchOptimizer
from poison_tf.components.patch_report import PatchReport
from poison_tf.components.poison_planner import PoisonPlanner
from poison_tf.components.regressor_evaluator import RegressorEvaluator
from poison_tf.components.regressor_explainer import RegressorExplainer
from poison_tf.components.regressor_trainer import RegressorTrainer
from poison_tf.components.seg_evaluator import SegEvaluator
from poison_tf.components.seg_example_gen import SegExampleGen
from poison_tf.components.seg_report import SegReport
from poison_tf.components.seg_trainer import SegTrainer
from poison_tf.components.victim_trainer import VictimTrainer
from poison_tf.errors import UserInputError
from poison_tf.train.determinism import enable_determinism
from poison_tf.train.strategy import resolve_strategy

FLAGS = flags.FLAGS

# stage → {component name for --component: class}; the first entry is the default.
STAGES: dict[str, dict[str, type[BaseComponent]]] = {
    "example_gen": {
        "headpose": HeadPoseExampleGen,
        "classifier": ClassifierExampleGen,
        "face": FaceExampleGen,
        "seg": SegExampleGen,
    },
    "poison": {"planner": PoisonPlanner, "patch": PatchOptimizer, "clean_image": CleanImagePlanner},
    "train": {
        "regressor": RegressorTrainer,
        "victim": VictimTrainer,
        "import_classifier": ClassifierImporter,
        "classifier": ClassifierTrainer,
        "detector": DetectorFitter,
        "seg": SegTrainer,
    },
    "evaluate": {
        "regressor": RegressorEvaluator,
        "patch": PatchEvaluator,
        "detection": DetectionEvaluator,
        "seg": SegEvaluator,
    },
    "explain": {
        "regressor": RegressorExplainer,
        "classifier": ClassifierExplainer,
        "class_pairs": PairSelector,
    },
    "report": {
        "badnets": BadNetsReport,
        "patch": PatchReport,
        "detection": DetectionReport,
        "seg": SegReport,
        "clean_image": CleanImageReport,
    },
}

_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def define_stage_flags(stage: str) -> None:
    """Defines --component, --output_dir, one list flag per input and one flag per parameter."""
    components = STAGES[stage]
    flags.DEFINE_enum(
        "component", next(iter(components)), list(components), f"Which {stage} component to run."
    )
    flags.DEFINE_string(
        "output_dir", None, "Folder that receives <component id>/<fingerprint>/ outputs."
    )
    defined: dict[str, type] = {}
    for cls in components.values():
        spec = cls.SPEC_CLASS
        for key in spec.INPUTS:
            if key not in defined:
                flags.DEFINE_list(key, None, f"Input artefact URI(s) for {key!r}.")
                defined[key] = list
        for name, parameter in spec.PARAMETERS.items():
            if name in defined:
                if defined[name] is not parameter.type:
                    raise TypeError(f"stage {stage}: parameter {name!r} has two types")
                continue
            default = f" (default {parameter.default!r})" if parameter.default is not None else ""
            _DEFINE[parameter.type](name, None, (parameter.help or name) + default)
            defined[name] = parameter.type


def run_stage(stage: str) -> dict:
    """Runs the chosen component of `stage` from the parsed flags; returns {key: uri}."""
    cls = STAGES[stage][FLAGS.component]
    spec = cls.SPEC_CLASS
    if not FLAGS.output_dir:
        raise UserInputError("--output_dir is required")
    inputs = {}
    for key, channel in spec.INPUTS.items():
        uris = FLAGS[key].value
        if not uris:
            if not channel.optional:
                raise UserInputError(f"--{key} is required (URI of a {channel.type_name} artefact)")
            continue
        inputs[key] = uris
    params = {name: FLAGS[name].value for name in spec.PARAMETERS if FLAGS[name].present}
    if params.get("deterministic"):  # fixed thread pools: before any other TensorFlow op
        enable_determinism()
    if "strategy" in params:  # multi_worker must exist before any other TensorFlow op
        resolve_strategy(params["strategy"])
    outputs = cls.run_standalone(inputs, params, FLAGS.output_dir)
    return {key: artifact.uri for key, artifact in outputs.items()}


def _program(stage: str) -> None:
    define_stage_flags(stage)

    def main(argv: list[str]) -> None:
        if len(argv) > 1:
            raise UserInputError(f"unexpected arguments {argv[1:]}")
        with contextlib.redirect_stdout(sys.stderr):  # progress bars must not mix with the JSON
            outputs = run_stage(stage)
        print(json.dumps(outputs, indent=2))

    cli.run(main, argv=sys.argv)


def example_gen() -> None:
    _program("example_gen")


def poison() -> None:
    _program("poison")


def train() -> None:
    _program("train")


def evaluate() -> None:
    _program("evaluate")


def explain() -> None:
    _program("explain")


def report() -> None:
    _program("report")
