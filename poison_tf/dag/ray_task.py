"""What one Ray task does on its worker: take its CPU share, run the component, report back.

The task never raises for a component's own error: it returns a `failed` result carrying the
error, so Ray does not retry a deterministic failure and the driver can fail just that branch.
A worker that dies (SIGKILL, node lost, out of memory) is different: that is a Ray system
failure, retried up to `max_retries` times, and the retry resumes from the trainer's checkpoint
because the work dir is keyed by the execution fingerprint, not by the attempt (with a URI
root, on another node too: `work_sync` keeps a copy of the work dir at the URI).
"""

from __future__ import annotations

import os
import sys
import time
import traceback

from poison_tf.dag import staging
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent


def thread_env(cpus: float) -> dict[str, str]:
    """TF thread pools sized to a task's CPU share, as environment variables TF reads when its
    runtime starts: `cpus` intra-op threads (one op over the share), at most 2 inter-op."""
    share = max(1, int(cpus))
    return {
        "TF_NUM_INTRAOP_THREADS": str(share),
        "TF_NUM_INTEROP_THREADS": str(min(share, 2)),
        "OMP_NUM_THREADS": str(share),
    }


def take_cpu_share(cpus: float) -> None:
    """Applies `thread_env` in this worker if TensorFlow has not started its runtime yet.

    Heavy tasks get the variables from their runtime_env, so their worker starts with them; a
    light task on a reused worker finds TF already sized by the first light task (all light
    tasks ask for the same share), and `set_*_parallelism_threads` then raises, which is fine.
    """
    env = thread_env(cpus)
    os.environ.update(env)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(env["TF_NUM_INTRAOP_THREADS"]))
            tf.config.threading.set_inter_op_parallelism_threads(int(env["TF_NUM_INTEROP_THREADS"]))
        except RuntimeError:
            pass


def run_component(
    component: BaseComponent,
    inputs: dict[str, list[Artifact]],
    root: str,
    use_cache: bool,
    cpus: float,
    staging_dir: str | None = None,
) -> dict:
    """Runs one component on this Ray worker; returns a result record (never raises for the
    component's own errors).

    Args:
        component: the component, its parameters resolved.
        inputs: input key → upstream artefacts.
        root: the pipeline root (a folder every node mounts, or a URI: then this worker
            downloads its inputs into its node's mirror and uploads its outputs itself).
        use_cache: reuse a finished execution with the same fingerprint.
        cpus: this task's CPU share (sizes TF's thread pools).
        staging_dir: the driver's `$POISON_TF_STAGING_DIR`, if it set one.

    Returns:
        start, end, status, node, worker, gpus, and outputs (or error and traceback).
    """
    import ray

    if staging_dir:
        os.environ[staging.STAGING_ENV] = staging_dir

    start = time.time()
    if not ray.get_gpu_ids():  # a task without GPUs must not grab the node's GPUs
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    take_cpu_share(cpus)
    context = ray.get_runtime_context()
    identity = {
        "node": ray.util.get_node_ip_address(),
        "worker": f"{context.get_worker_id()[:12]} pid {os.getpid()}",
        "gpus": [str(g) for g in ray.get_gpu_ids()],
    }
    try:
        outputs, cached = staging.execute_staged(component, inputs, root, use_cache)
    except Exception as error:
        return identity | {
            "start": start,
            "end": time.time(),
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
            "outputs": None,
        }
    return identity | {
        "start": start,
        "end": time.time(),
        "status": "cached" if cached else "ok",
        "outputs": outputs,
    }
