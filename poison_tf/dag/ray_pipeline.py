"""What `poison-tf-pipeline --runner=ray` does around the runner: connect, check, run, clean up.

The checks (address, output folder, GPU and CPU shares) all run before the first task is
submitted, so a mistake costs nothing; Ray started here is shut down even when a check or
the run fails.
"""

from __future__ import annotations

from poison_tf.dag import ray_cluster
from poison_tf.dag.pipeline import Pipeline
from poison_tf.dag.ray_runner import RayDagRunner
from poison_tf.errors import UserInputError


def run_on_ray(pipeline: Pipeline, output_dir: str, flags) -> dict:
    """Runs `pipeline` on the Ray cluster the flags name; returns {component id: outputs}.

    Args:
        pipeline: the DAG to run.
        output_dir: the study's output folder (where `.pipeline/` lives), checked for sharing.
        flags: parsed absl flags with runner, ray_address, gpus_per_task, cpus_per_task,
            max_retries, cache and strategy.

    Returns:
        The outputs of every component.
    """
    if flags.strategy == "multi_worker":
        raise UserInputError(
            "--strategy=multi_worker spreads one training over machines through TF_CONFIG; "
            "with --runner=ray every training is its own task: use --strategy=mirrored or default"
        )
    if flags.max_retries < 0:
        raise UserInputError(f"--max_retries={flags.max_retries}: must be >= 0")
    info = ray_cluster.connect(flags.ray_address)
    try:
        gpus, cpus = ray_cluster.resolve_shares(flags.gpus_per_task, flags.cpus_per_task, info)
        ray_cluster.check_output_dir(output_dir, info)
        runner = RayDagRunner(flags.cache, gpus, cpus, flags.max_retries)
        return runner.run(pipeline)
    finally:
        ray_cluster.shutdown(info)
