"""Throughput and peak memory of `poison-tf-eval` (streamed) vs the original `eval.py` (whole array).

Writes a synthetic HackML data file (`--num_images` random 55x47 RGB images, 0-255 float32,
channels first, 1283 random labels; the layout of the real files) and a DeepID BadNet with random
weights saved by `model.save(model.h5)` (a full model file, which both sides can load) into a
temporary folder. Then each side runs in its own fresh subprocess, so that the peak RSS
(`ru_maxrss`) of one never mixes with the other; the sides take turns, `--repeats` times, the
order alternating. Inside a worker the clock starts after the imports (Python, TF, Keras,
poison_tf) and stops when the accuracy is known; model loading and reading the file count on
both sides.

- ours: what `poison_tf.hackml_eval.main` does for `<data.h5> <model.h5>`, in process:
  `open_hackml`, `load_hackml_model` in the default strategy's scope, `classifier_signature`,
  `score_file(..., batch_size=--batch_size, progress=False)`, `accuracy_percent()`.
- plain: CSAW-HackML's `eval.py`: `np.array(h5py.File(f)["data"])`, transpose to NHWC, `/255`,
  `keras.models.load_model`, `np.argmax(model.predict(x), 1)` over the whole array (Keras'
  default batch of 32, as eval.py), and the same again with `batch_size=--batch_size`
  (plain_b) to separate the batch-size effect from streaming, and plain_b with grappler's
  remapper off (plain_b_noremap), as `score_file` turns it off on CPU, so that what remains of
  the ratio is the streaming itself.

Prints images/s (wall), images per CPU-second and the peak RSS of every run, the medians, and
RATIO ours/plain. The worker's RSS right after the imports is printed too (what TF alone costs).

    .venv/bin/python benchmarks/hackml_eval.py                       # 20000 images, ~2.5 min
    .venv/bin/python benchmarks/hackml_eval.py --num_images=100000 --repeats=1
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_repeats, define_seed
from machine import machine

flags.DEFINE_integer("num_images", 20000, "Images in the synthetic HackML data file.")
flags.DEFINE_integer("batch_size", 256, "Batch of the streamed eval (the CLI's default).")
define_repeats(2, "Runs per side, a fresh subprocess each")
define_seed(5, "the images, labels and weights")
flags.DEFINE_string("folder", None, "Keep the files here instead of a temporary folder.")
flags.DEFINE_enum(
    "worker", None, ["ours", "plain", "plain_b", "plain_b_noremap"], "Internal: run one side."
)
flags.DEFINE_string("data", None, "Internal: data file of the worker.")
flags.DEFINE_string("model", None, "Internal: model file of the worker.")

FLAGS = flags.FLAGS
CHUNK = 5000  # images written per h5py slice, so writing never holds the whole file


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def write_files(folder: str, num: int, seed: int) -> tuple[str, str]:
    """The data file (same layout as `write_hackml_h5`: float32 `data` NCHW, float32 `label`),
    written in slices, and a random-weight BadNet as a full Keras `.h5` model."""
    import h5py
    import numpy as np

    from poison_tf.models.deepid_badnet import INPUT_SHAPE, NUM_CLASSES, build_deepid_badnet

    data_path, model_path = os.path.join(folder, "data.h5"), os.path.join(folder, "model.h5")
    rng = np.random.default_rng(seed)
    height, width, channels = INPUT_SHAPE
    with h5py.File(data_path, "w") as handle:
        data = handle.create_dataset("data", (num, channels, height, width), "float32")
        for start in range(0, num, CHUNK):
            stop = min(start + CHUNK, num)
            data[start:stop] = rng.integers(0, 256, (stop - start, channels, height, width))
        handle.create_dataset("label", data=rng.integers(0, NUM_CLASSES, num).astype("float32"))
    import keras

    keras.utils.set_random_seed(seed)
    build_deepid_badnet().save(model_path)
    return data_path, model_path


def worker(side: str, data_path: str, model_path: str, batch_size: int) -> dict:
    import h5py
    import keras
    import numpy as np
    import tensorflow as tf

    from poison_tf.data.hackml import open_hackml
    from poison_tf.hackml_eval import score_file
    from poison_tf.io.model_loading import classifier_signature, load_hackml_model

    after_imports = _rss_kib("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    if side == "ours":
        data = open_hackml(data_path)
        strategy = tf.distribute.get_strategy()
        with strategy.scope():
            model = load_hackml_model(model_path)
        _, num_classes = classifier_signature(model, model_path)
        with strategy.scope():
            scores = score_file(data, model, strategy, num_classes, batch_size, progress=False)
        accuracy, count = scores.accuracy_percent(), data.num_examples
    else:
        handle = h5py.File(data_path, "r")
        x = np.array(handle["data"]).transpose((0, 2, 3, 1))
        y = np.array(handle["label"])
        x = x / 255
        model = keras.models.load_model(model_path)
        if side == "plain_b_noremap":  # what score_file does on CPU (see its docstring)
            tf.config.optimizer.set_experimental_options({"remapping": False})
        kwargs = {"batch_size": batch_size} if side.startswith("plain_b") else {}
        predicted = np.argmax(model.predict(x, verbose=0, **kwargs), axis=1)
        accuracy, count = float(np.mean(np.equal(predicted, y)) * 100), len(y)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "side": side,
        "images": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "accuracy": accuracy,
        "rss_after_imports_mib": after_imports / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_side(side: str, data_path: str, model_path: str) -> dict:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        f"--worker={side}",
        f"--data={data_path}",
        f"--model={model_path}",
        f"--batch_size={FLAGS.batch_size}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{side} worker failed (rc {done.returncode}):\n{done.stderr[-3000:]}")


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.worker:
        result = worker(FLAGS.worker, FLAGS.data, FLAGS.model, FLAGS.batch_size)
        print("RESULT " + json.dumps(result))
        return
    folder = FLAGS.folder or tempfile.mkdtemp(prefix="hackml_eval_bench_")
    os.makedirs(folder, exist_ok=True)
    try:
        started = time.perf_counter()
        data_path, model_path = write_files(folder, FLAGS.num_images, FLAGS.seed)
        size = os.path.getsize(data_path) / 2**20
        print(
            f"files: {FLAGS.num_images} images ({size:.0f} MiB float32) + random-weight DeepID "
            f"BadNet, written in {time.perf_counter() - started:.1f} s to {folder}"
        )
        sides = ["ours", "plain", "plain_b", "plain_b_noremap"]
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for repeat in range(FLAGS.repeats):
            for side in sides if repeat % 2 == 0 else list(reversed(sides)):
                result = run_side(side, data_path, model_path)
                runs[side].append(result)
                print(
                    f"  repeat {repeat + 1} {side:15s} {result['images'] / result['wall_s']:7.0f} "
                    f"images/s  {result['images'] / result['cpu_s']:7.0f} images/CPU-s  "
                    f"peak RSS {result['peak_rss_mib']:7.0f} MiB (after imports "
                    f"{result['rss_after_imports_mib']:.0f})  accuracy {result['accuracy']:.4f} %"
                )
    finally:
        if not FLAGS.folder:
            shutil.rmtree(folder, ignore_errors=True)

    print(
        f"\nmachine: {machine()}; "
        f"{FLAGS.repeats} runs per side of {FLAGS.num_images} images, ours batch "
        f"{FLAGS.batch_size}, plain batch 32 (Keras default), plain_b* batch {FLAGS.batch_size}; "
        "medians:"
    )
    medians = {}
    for side, results in runs.items():
        medians[side] = {
            "wall": statistics.median(r["images"] / r["wall_s"] for r in results),
            "cpu": statistics.median(r["images"] / r["cpu_s"] for r in results),
            "peak": statistics.median(r["peak_rss_mib"] for r in results),
        }
        m = medians[side]
        print(
            f"  {side:15s} {m['wall']:7.0f} images/s  {m['cpu']:7.0f} images/CPU-s  "
            f"peak RSS {m['peak']:7.0f} MiB"
        )
    ours = medians["ours"]
    for side in sides[1:]:
        other = medians[side]
        print(
            f"RATIO ours/{side:15s} {ours['wall'] / other['wall']:.3f} images/s   "
            f"{ours['cpu'] / other['cpu']:.3f} images/CPU-s   "
            f"peak RSS {ours['peak'] / other['peak']:.3f}"
        )


if __name__ == "__main__":
    app.run(main)
