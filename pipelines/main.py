"""`poison-tf-pipeline --pipeline=<name> --preset=<preset> --output_dir=<dir>`: run a whole study.

Writes `<dir>/report.md` with CSVs and PNGs beside it and TensorBoard logs under
`<dir>/tensorboard`; the component cache lives in `<dir>/.pipeline`, so running the same
command again reuses every finished component. `<dir>` may be a `tf.io.gfile` URI (`gs://...`):
the run then works in a local mirror and uploads to it (poison_tf/dag/staging.py).
"""

from __future__ import annotations

import importlib
import os

from absl import flags, logging

from pipelines import common
from poison_tf import cli
from poison_tf.dag import remote_fs, staging
from poison_tf.dag.runner import PipelineFailed, report_failure
from poison_tf.errors import UserInputError
from poison_tf.io.safe_read import check_output_dir
from poison_tf.train.strategy import resolve_strategy

# name → module with `run(preset, output_dir) -> report path`
PIPELINES = {
    "badnets_regression": "pipelines.badnets_regression",
    "backdoor_detection": "pipelines.backdoor_detection",
    "adversarial_patch": "pipelines.adversarial_patch",
    "instance_segmentation": "pipelines.instance_segmentation",
    "clean_image_backdoor": "pipelines.clean_image_backdoor",
    "backdoor_benchmark": "pipelines.backdoor_benchmark",
}
for _module in PIPELINES.values():  # modules define their own flags at import time
    importlib.import_module(_module)

FLAGS = flags.FLAGS


def run_pipeline(name: str, preset: str, output_dir: str) -> str:
    """Builds and runs one study's pipeline with a preset.

    Args:
        name: one of PIPELINES.
        preset: the preset's name.
        output_dir: where the report goes.

    Returns:
        The report's path.

    Raises:
        UserInputError: an unknown pipeline (or preset, or a bad flag of the study).
    """
    if name not in PIPELINES:
        raise UserInputError(f"--pipeline={name!r}: choose one of {', '.join(sorted(PIPELINES))}")
    return importlib.import_module(PIPELINES[name]).run(preset, output_dir)


def use_staging_dir(folder: str) -> None:
    """Makes `folder` this run's staging dir (`$POISON_TF_STAGING_DIR`, which Ray tasks get).

    Args:
        folder: the `--staging_dir` flag's value, a local folder.

    Raises:
        UserInputError: a URI, or a file where the folder should be.
    """
    if remote_fs.is_uri(folder):
        raise UserInputError(f"--staging_dir={folder}: must be a local folder (it mirrors a URI)")
    check_output_dir(folder, "--staging_dir")
    os.environ[staging.STAGING_ENV] = os.path.abspath(folder)


def main(argv: list[str]) -> None:
    """`poison-tf-pipeline --pipeline=<study> --output_dir=<dir>`: runs a study, prints its report.

    Args:
        argv: the program name alone (everything else is a flag).

    Raises:
        UserInputError: extra arguments, a missing flag, or a bad value (see `run_pipeline`).
    """
    if len(argv) > 1:
        raise UserInputError(f"unexpected arguments {argv[1:]}")
    if FLAGS.pipeline is None or FLAGS.output_dir is None:
        raise UserInputError("--pipeline and --output_dir are required")
    if remote_fs.is_uri(FLAGS.output_dir):  # gs://... : staged through a local mirror
        remote_fs.check_uri(FLAGS.output_dir, "--output_dir")
    else:
        check_output_dir(FLAGS.output_dir, "--output_dir")
    if FLAGS.staging_dir:
        use_staging_dir(FLAGS.staging_dir)
    common.start_deterministic(common.is_deterministic(FLAGS.pipeline, FLAGS.preset))
    if FLAGS.runner == "local":  # under Ray each task resolves it; the driver keeps off the GPUs
        resolve_strategy(FLAGS.strategy)  # multi_worker must be created before any other op
    try:
        report = run_pipeline(FLAGS.pipeline, FLAGS.preset, FLAGS.output_dir)
    except PipelineFailed as failed:
        report_failure(failed)
    logging.info("report: %s", report)
    print(f"report: {report}")


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
