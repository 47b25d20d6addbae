"""`poison-tf-demo --output_dir=runs/demo`: every study's `demo` preset, one after the other.

This is what `make demo` runs on a fresh machine. Each study writes its report under
`<output_dir>/<pipeline>/`; `<output_dir>/report.md` links them and says how long each took.
The demo presets use only data the project generates itself, so nothing is downloaded.
"""

from __future__ import annotations

import os
import time

from absl import flags

from pipelines import common
from pipelines.main import PIPELINES, run_pipeline
from poison_tf import cli
from poison_tf.dag import remote_fs
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_file
from poison_tf.train.strategy import resolve_strategy

FLAGS = flags.FLAGS

# `make demo` runs the mission's four studies (five pipelines) within its 15-minute budget on 2
# cores. backdoor_benchmark's demo (every attack × defence) runs alone with
# `poison-tf-demo --pipeline=backdoor_benchmark`: added to the others it broke the budget.
STUDIES = (
    "badnets_regression",
    "backdoor_detection",
    "adversarial_patch",
    "instance_segmentation",
    "clean_image_backdoor",
)


def run_demo(output_dir: str, names: list[str] | None = None) -> str:
    """Runs the demo preset of each pipeline in `names` (default STUDIES); returns the index path.

    Args:
        output_dir: where the studies' reports and the index go.
        names: the pipelines to run (default STUDIES).

    Returns:
        The index's path.
    """
    lines = [
        "# poison_tf demo",
        "",
        "Every study's `demo` preset on embedded, generated data.",
        "",
        "| study | report | minutes |",
        "|---|---|---|",
    ]
    names = names or list(STUDIES)
    for name in names:
        started = time.perf_counter()
        report = run_pipeline(name, "demo", os.path.join(output_dir, name))
        minutes = (time.perf_counter() - started) / 60
        lines.append(
            f"| {name} | [{name}/report.md]({os.path.relpath(report, output_dir)}) | {minutes:.1f} |"
        )
        print(f"{name}: {report} ({minutes:.1f} min)", flush=True)
    boards = ",".join(f"{n}:{os.path.join(output_dir, n, 'tensorboard')}" for n in names)
    lines += ["", f"TensorBoard for every study: `tensorboard --logdir_spec {boards}`.", ""]
    index = os.path.join(output_dir, "report.md")
    with atomic_file(index) as handle:
        handle.write("\n".join(lines))
    return index


def main(argv: list[str]) -> None:
    """`poison-tf-demo --output_dir=<dir>`: the demo preset of every study, and an index.

    Args:
        argv: the program name alone (everything else is a flag).

    Raises:
        UserInputError: extra arguments, no --output_dir, or an unknown --pipeline.
    """
    if len(argv) > 1:
        raise UserInputError(f"unexpected arguments {argv[1:]}")
    remote_fs.require_local_output_dir(FLAGS.output_dir, "poison-tf-demo", "per study")
    if FLAGS.pipeline and FLAGS.pipeline not in PIPELINES:
        raise UserInputError(
            f"--pipeline={FLAGS.pipeline!r}: choose one of {', '.join(sorted(PIPELINES))}"
        )
    # every demo preset is one RESULTS.md quotes: deterministic unless --nodeterministic
    common.start_deterministic(FLAGS.deterministic is not False)
    resolve_strategy(FLAGS.strategy)  # multi_worker must be created before any other op
    print(f"demo index: {run_demo(FLAGS.output_dir, [FLAGS.pipeline] if FLAGS.pipeline else None)}")


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
