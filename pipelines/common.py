"""What every pipeline shares: the run flags, choosing a preset, running and publishing a report.

A preset is a dataclass of defaults whose fields are also flags (`pipelines.config_flags`): a
flag given on the command line overrides the field of the same name (`--rates=50,20,10` over
the preset's rates). The flags defined here are those of a run, not of a study.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from absl import flags

from pipelines import config_flags
from poison_tf.dag import LocalDagRunner, Pipeline, staging
from poison_tf.errors import UserInputError  # noqa: F401 (re-exported for pipelines)
from poison_tf.io.flag_ranges import check_config, check_values
from poison_tf.train.determinism import enable_determinism

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
flags.DEFINE_enum(
    "runner", "local", ["local", "ray"], "Run components in this process, or as Ray tasks."
)
flags.DEFINE_string(
    "ray_address", None, "--runner=ray: join this cluster (host:port; default RAY_ADDRESS, "
    "else a local Ray instance on 127.0.0.1)."
)  # fmt: skip
flags.DEFINE_float(
    "gpus_per_task", None, "--runner=ray: GPUs per training (default 1 on a cluster with GPUs)."
)
flags.DEFINE_float(
    "cpus_per_task", None, "--runner=ray: CPUs (TF threads) per training (default: the GPU "
    "node's CPUs per GPU times --gpus_per_task, else 1)."
)  # fmt: skip
flags.DEFINE_integer("max_retries", 3, "--runner=ray: reruns of a task whose worker died.")
flags.DEFINE_string(
    "staging_dir", None, "With a URI --output_dir (gs://...): the local folder that mirrors it "
    "(default $POISON_TF_STAGING_DIR, else <tmp>/poison_tf_stage); Ray tasks get it too."
)  # fmt: skip
flags.DEFINE_bool(
    "deterministic",
    None,
    "TF op determinism, every seed fixed and fixed thread pools (poison_tf/train/determinism.py),"
    " so the same command gives bit-identical artefacts. Default: on for the presets RESULTS.md"
    " quotes (DETERMINISTIC_PRESETS), off otherwise.",
)

# The presets whose numbers RESULTS.md quotes: deterministic unless --nodeterministic.
DETERMINISTIC_PRESETS = {
    "badnets_regression": ("demo", "cpu"),
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


def start_deterministic(deterministic: bool) -> None:
    """Program start of a deterministic run: thread pools before TensorFlow runs its first op, and
    a global seed for every random op outside the trainings (each trainer re-seeds with its own).

    `--seed` is range-checked here, since it seeds TensorFlow before any config is validated.

    Raises:
        UserInputError: `--seed` out of range.
    """
    seed = FLAGS.seed if "seed" in FLAGS else None
    check_values({"seed": seed})
    if deterministic:
        enable_determinism(0 if seed is None else seed)


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


def parameters_for(component_cls: type, config) -> dict:
    """The fields of a preset `config` that `component_cls` takes as parameters, by name.

    One name per setting from preset to component, so a pipeline passes them on without
    copying each field by hand.

    Args:
        component_cls: a `BaseComponent` subclass.
        config: a preset dataclass instance.

    Returns:
        {parameter name: the config's value} for every field the component's spec declares.
    """
    names = component_cls.SPEC_CLASS.PARAMETERS
    return {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name in names
    }


def choose_preset(presets: dict, name: str, pipeline: str):
    """The preset `name` of `pipeline`.

    Raises:
        UserInputError: an unknown preset (the message lists the pipeline's presets).
    """
    if name not in presets:
        raise UserInputError(
            f"--preset={name!r}: {pipeline} has presets {', '.join(sorted(presets))}"
        )
    return presets[name]


def run_dag(pipeline: Pipeline, output_dir: str) -> dict:
    """Runs the pipeline with the runner `--runner` names (checks for Ray come first)."""
    if FLAGS.runner == "local":
        return LocalDagRunner(use_cache=FLAGS.cache).run(pipeline)
    from poison_tf.dag.ray_pipeline import run_on_ray

    return run_on_ray(pipeline, output_dir, FLAGS)


def run_and_publish(
    pipeline: Pipeline, report_id: str, output_dir: str, config: dict | None = None
) -> str:
    """Runs the pipeline and copies its report artefact into `output_dir`.

    At a URI `output_dir` the report is assembled in its local mirror (`staging.local_path`) and
    uploaded at the end; the report artefact is downloaded first if another node made it.

    Args:
        pipeline: the study's DAG.
        report_id: the id of its report component.
        output_dir: receives report.md and what it links, and `config.json` (a folder or a
            `tf.io.gfile` URI).
        config: the resolved config record (`config_flags.config_record`); written to
            `config.json` and shown at the end of report.md.

    Returns:
        The path (or URI) of report.md.
    """
    produced = run_dag(pipeline, output_dir)
    report = produced[report_id]["report"]
    report = staging.fetch(report)
    published, output_dir = output_dir, staging.local_path(output_dir)
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
    from poison_tf.dag.timeline import add_timeline

    add_timeline(pipeline.root, output_dir, FLAGS.runner)
    report_md = os.path.join(output_dir, "report.md")
    if config is not None:
        config_flags.write_config(config, output_dir)
        with open(report_md, "a") as handle:
            handle.write(config_section(config))
    if staging.is_uri(published):
        staging.publish(output_dir, published)
        return os.path.join(published, "report.md")
    return report_md


def config_section(config: dict) -> str:
    """The report's last section: the resolved config (also in `config.json`)."""
    text = json.dumps(config, indent=2, sort_keys=True, default=str)
    return (
        f"\n## Configuration\n\nPreset `{config['preset']}` with the flags given "
        f"(`{config_flags.CONFIG_FILE}`):\n\n```json\n{text}\n```\n"
    )


def run_study(module, preset: str, output_dir: str) -> str:
    """What every pipeline's `run(preset, output_dir)` does: resolve, build, run, publish.

    Args:
        module: a pipeline module: `NAME`, `PRESETS` (name → config dataclass),
            `validate(config) -> config` (raises `UserInputError` before anything runs) and
            `build(config, root) -> (Pipeline, report component id)`.
        preset: the preset's name.
        output_dir: receives report.md, what it links, and config.json.

    Returns:
        The path of report.md.
    """
    config = resolve_config(module, preset)
    seed_list(getattr(config, "seed", 0), getattr(config, "seeds", 1))  # --seeds < 1: user error
    _running.update(pipeline=module.NAME, preset=preset)
    pipeline, report_id = module.build(config, output_dir)
    record = config_flags.config_record(config, module.NAME, preset)
    return run_and_publish(pipeline, report_id, output_dir, record)


def resolve_config(module, preset: str):
    """The module's preset with the given flags applied, validated (`module.validate`)."""
    chosen = choose_preset(module.PRESETS, preset, module.NAME)
    return module.validate(check_config(config_flags.apply_overrides(chosen)))
