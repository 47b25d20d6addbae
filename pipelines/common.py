"""What every pipeline shares: flags, preset overrides, running and publishing a report.

A preset is a dataclass of defaults; any field that is also a flag given on the command line
overrides it (`--rates=50,20,10` over the preset's rates). Flags are defined once here (shared
names) or in the pipeline's own module (its specific names).
"""

from __future__ import annotations

import dataclasses
import os
import shutil

from absl import flags

from poison_tf.components import LocalDagRunner, Pipeline
from poison_tf.errors import UserInputError  # noqa: F401 (re-exported for pipelines)

FLAGS = flags.FLAGS

flags.DEFINE_string("pipeline", None, "Which study to run (see --helpfull for the list).")
flags.DEFINE_string(
    "preset", "demo", "Preset of the pipeline: demo, full, ... (each pipeline lists its own)."
)
flags.DEFINE_string("output_dir", None, "Where report.md, CSVs, PNGs and tensorboard/ are written.")
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker", "tpu"],
    "tf.distribute strategy for training.",
)
flags.DEFINE_bool(
    "mixed_precision", False, "Train with mixed precision (float16 on GPU, bfloat16 on CPU)."
)
flags.DEFINE_bool("jit_compile", False, "Compile training steps with XLA.")
flags.DEFINE_bool(
    "cache", True, "Reuse finished components from earlier runs of the same pipeline."
)
flags.DEFINE_integer("epochs", None, "Override the preset's number of training epochs.")
flags.DEFINE_integer("global_batch_size", None, "Override the preset's global batch size.")
flags.DEFINE_float("learning_rate", None, "Override the preset's learning rate.")
flags.DEFINE_enum(
    "lr_decay",
    None,
    ["constant", "cosine", "linear"],
    "Override the preset's learning-rate decay over the run (after any warm-up).",
)
flags.DEFINE_integer("seed", None, "Override the preset's random seed.")
flags.DEFINE_integer(
    "seeds",
    None,
    "Run the seed-dependent components N times (seeds seed, seed+1, ...); the report gives "
    "mean ± std over them (backdoor_detection, adversarial_patch).",
)
flags.DEFINE_bool(
    "deterministic",
    None,
    "TF op determinism, every seed fixed and fixed thread pools (poison_tf/train/determinism.py),"
    " so the same command gives bit-identical artefacts. Default: on for the presets RESULTS.md"
    " quotes (DETERMINISTIC_PRESETS), off otherwise.",
)

# The presets whose numbers RESULTS.md quotes: deterministic unless --nodeterministic.
DETERMINISTIC_PRESETS = {
    "badnets_regression": ("demo",),
    "backdoor_detection": ("demo", "lfw"),
    "adversarial_patch": (
        "demo",
        "cifar10_small",
        "cifar10_resnet50_cpu",
        "cifar10_resnet50_224_cpu",
    ),
    "instance_segmentation": ("demo", "coco128"),
    "clean_image_backdoor": ("demo", "coco128"),
}
_running: dict[str, str] = {}  # {"pipeline", "preset"} of the study being built


def is_deterministic(pipeline: str | None, preset: str | None) -> bool:
    """`--deterministic` if given, else whether RESULTS.md quotes this pipeline's preset."""
    if FLAGS.deterministic is not None:
        return bool(FLAGS.deterministic)
    return preset in DETERMINISTIC_PRESETS.get(pipeline or "", ())


flags.DEFINE_string("source", None, "Override the preset's data source.")
flags.DEFINE_integer("image_size", None, "Override the preset's image size (pixels).")


def apply_overrides(config, preset_name: str):
    """Returns `config` with every explicitly given flag of the same name applied."""
    changes = {}
    for field in dataclasses.fields(config):
        if field.name in FLAGS and FLAGS[field.name].present:
            value = FLAGS[field.name].value
            if isinstance(getattr(config, field.name), tuple) and isinstance(value, list):
                value = tuple(value)
            changes[field.name] = value
    return dataclasses.replace(config, **changes)


def training_flags() -> dict:
    """The strategy-related trainer parameters every pipeline passes on."""
    return {
        "strategy": FLAGS.strategy,
        "mixed_precision": FLAGS.mixed_precision,
        "jit_compile": FLAGS.jit_compile,
        "deterministic": is_deterministic(_running.get("pipeline"), _running.get("preset")),
    }


def seed_list(seed: int, seeds: int) -> list[int]:
    """The seeds of a `--seeds=N` run: seed, seed+1, ..., seed+N-1."""
    if seeds < 1:
        raise UserInputError(f"--seeds={seeds}: give at least 1")
    return [seed + index for index in range(seeds)]


def reseeded(params: dict, offset: int) -> dict:
    """A component's JSON parameters with their own `seed` moved by `offset` (if they have one)."""
    return params | {"seed": params["seed"] + offset} if "seed" in params else params


def choose_preset(presets: dict, name: str, pipeline: str):
    if name not in presets:
        raise UserInputError(
            f"--preset={name!r}: {pipeline} has presets {', '.join(sorted(presets))}"
        )
    return presets[name]


def run_and_publish(pipeline: Pipeline, report_id: str, output_dir: str) -> str:
    """Runs the pipeline and copies its report artefact into `output_dir`; returns report.md's path."""
    produced = LocalDagRunner(use_cache=FLAGS.cache).run(pipeline)
    report = produced[report_id]["report"]
    board = os.path.join(output_dir, "tensorboard")
    if os.path.isdir(board):
        shutil.rmtree(board)
    for name in os.listdir(report.uri):
        if name == "artifact.json":
            continue
        source = report.path(name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(output_dir, name), dirs_exist_ok=True)
        else:
            shutil.copy(source, os.path.join(output_dir, name))
    return os.path.join(output_dir, "report.md")


def run_study(module, preset: str, output_dir: str) -> str:
    """Runs a pipeline module's preset (its PRESETS, NAME, validate and build) and publishes
    the report: what every pipeline's `run(preset, output_dir)` does."""
    config = module.validate(
        apply_overrides(choose_preset(module.PRESETS, preset, module.NAME), preset)
    )
    seed_list(getattr(config, "seed", 0), getattr(config, "seeds", 1))  # --seeds < 1: user error
    _running.update(pipeline=module.NAME, preset=preset)
    pipeline, report_id = module.build(config, output_dir)
    return run_and_publish(pipeline, report_id, output_dir)
