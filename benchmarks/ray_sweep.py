"""The BadNets `demo` sweep under `--runner=local` vs `--runner=ray`, and Ray's cost per task.

1. Sweep: `poison-tf-pipeline --pipeline=badnets_regression --preset=demo` (1 baseline + 3
   triggers × 3 rates = 10 trainings, with their planners, evaluators, explainer and report),
   run as a fresh program twice into two fresh folders: once with the local runner (one process,
   TF over every core), once with `--runner=ray --cpus_per_task=1 --gpus_per_task=0` (a local
   Ray instance; on 2 cores, 2 trainings at a time with 1 TF thread each). RATIO = local wall /
   Ray wall, both end to end (program start, TF import, Ray start, every component, report).
   The load average before and after each run is printed: on a shared machine it decides the
   numbers, so compare only runs taken at the same load.
2. Overhead: DAGs of 50 no-op components (a chain, where each waits for the one before, and a
   fan of 50 independent ones) run by RayDagRunner on a warm local Ray instance and by the
   LocalDagRunner in this process. Each component still goes through the whole execution path
   (fingerprint, temporary folder, lineage record, rename, log line), so the per-task overhead of
   Ray is (Ray wall - local wall) / 50.

    .venv/bin/python benchmarks/ray_sweep.py                         # the demo sweep, ~6 min idle
    .venv/bin/python benchmarks/ray_sweep.py --epochs=1 --num_train=400   # shorter, same shape
    .venv/bin/python benchmarks/ray_sweep.py --skip_sweep            # the overhead only, ~30 s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags, logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from poison_tf.dag import (  # noqa: E402
    BaseComponent,
    BaseExecutor,
    ChannelParameter,
    ComponentSpec,
    LocalDagRunner,
    Pipeline,
)

flags.DEFINE_integer("epochs", None, "Override the demo preset's epochs (shorter sweeps).")
flags.DEFINE_integer("num_train", None, "Override the demo preset's training images.")
flags.DEFINE_integer("tasks", 50, "No-op components per overhead DAG.")
flags.DEFINE_bool("skip_sweep", False, "Measure the per-task overhead only.")

FLAGS = flags.FLAGS


class NoOpSpec(ComponentSpec):
    INPUTS = {"after": ChannelParameter("Token", optional=True)}
    OUTPUTS = {"token": ChannelParameter("Token")}


class NoOpExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        pass


class NoOp(BaseComponent):
    SPEC_CLASS = NoOpSpec
    EXECUTOR_CLASS = NoOpExecutor


def no_op_dag(shape: str, count: int, root: str) -> Pipeline:
    components: list[BaseComponent] = []
    for i in range(count):
        after = components[-1].outputs["token"] if (shape == "chain" and components) else None
        components.append(NoOp(f"{shape}{i}", after=after))
    return Pipeline(f"noop_{shape}", components, root)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_sweep(runner: str, out: str) -> float:
    # The demo preset now runs 50 and 10 % only; the sweep has 3 rates (10 trainings).
    argv = [
        sys.executable, "-m", "pipelines.main", "--pipeline=badnets_regression",
        "--preset=demo", "--rates=50,20,10", f"--output_dir={out}", f"--runner={runner}",
    ]  # fmt: skip
    if runner == "ray":
        argv += ["--cpus_per_task=1", "--gpus_per_task=0"]
    if FLAGS.epochs:
        argv.append(f"--epochs={FLAGS.epochs}")
    if FLAGS.num_train:
        argv.append(f"--num_train={FLAGS.num_train}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    print(f"{runner}: {load()} before", flush=True)
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    records = [
        json.loads(line) for line in open(os.path.join(out, ".pipeline", "executions.jsonl"))
    ]
    trainings = [r for r in records if "Trainer" in r["component"].split(".")[0]]
    busy = sum(r["end"] - r["start"] for r in records)
    print(
        f"{runner}: {wall:.1f} s wall, {len(records)} components ({len(trainings)} trainings, "
        f"{sum(r['seconds'] for r in trainings):.1f} s in trainers), {busy:.1f} s of component "
        f"time, on {len({r['worker'] for r in records})} worker(s); {load()} after",
        flush=True,
    )
    return wall


def overhead(folder: str) -> None:
    from poison_tf.dag import ray_cluster
    from poison_tf.dag.ray_runner import RayDagRunner

    os.environ["PYTHONPATH"] = os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])
    started = time.perf_counter()
    info = ray_cluster.connect(None, num_cpus=os.cpu_count())
    print(f"ray.init: {time.perf_counter() - started:.1f} s ({load()})")
    try:
        runner = RayDagRunner(use_cache=False)
        runner.run(no_op_dag("fan", 8, os.path.join(folder, "warm")))  # start the workers
        for shape in ("chain", "fan"):
            walls = {}
            for name, run in (("local", LocalDagRunner(use_cache=False).run), ("ray", runner.run)):
                dag = no_op_dag(shape, FLAGS.tasks, os.path.join(folder, f"{shape}_{name}"))
                started = time.perf_counter()
                run(dag)
                walls[name] = time.perf_counter() - started
            per_task = (walls["ray"] - walls["local"]) / FLAGS.tasks * 1000
            print(
                f"{FLAGS.tasks} no-op components, {shape}: local {walls['local']:.2f} s, "
                f"ray {walls['ray']:.2f} s; Ray overhead {per_task:.1f} ms per task "
                f"(ray alone {walls['ray'] / FLAGS.tasks * 1000:.1f} ms per task; {load()})"
            )
    finally:
        ray_cluster.shutdown(info)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # one INFO line per submitted task otherwise
    with tempfile.TemporaryDirectory() as folder:
        overhead(folder)
        if FLAGS.skip_sweep:
            return
        local = run_sweep("local", os.path.join(folder, "local"))
        ray_wall = run_sweep("ray", os.path.join(folder, "ray"))
        print(f"RATIO local wall / ray wall (demo sweep, 2 tasks of 1 CPU): {local / ray_wall:.2f}")


if __name__ == "__main__":
    app.run(main)
