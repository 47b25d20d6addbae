"""Ultralytics YOLOv8-seg import: time per size, and Keras vs torch forward speed in one run.

For each `--sizes` (default n, s) builds Ultralytics' own YOLOv8-seg from its yaml (80 classes,
Ultralytics' initialisation; no download), saves it the way Ultralytics does (a pickled dict
holding the model) and as a plain state_dict in a temporary folder, and times
`import_ultralytics` on each file (unpickling / reading, architecture check, building the Keras
model at 640 px, copying the tensors; the best of two runs). Then, for the first size at `--image_size`, times the
imported Keras model (one traced `tf.function`) against Ultralytics' eval-mode torch forward on
the same batch, both using the same number of CPU threads, taking turns `--repeats` times
(median). Prints images/s for each and the ratio Keras / torch (above 1 = Keras faster).

    .venv/bin/python benchmarks/ultralytics_import.py
    .venv/bin/python benchmarks/ultralytics_import.py --sizes=n,s,m --image_size=640 --batch=8
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("YOLO_OFFLINE", "True")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from absl import app, flags  # noqa: E402
from benchmark_flags import define_repeats  # noqa: E402

from poison_tf.io.ultralytics_import import import_ultralytics  # noqa: E402
from poison_tf.models.yolo_seg_transfer import with_image_size  # noqa: E402

flags.DEFINE_list("sizes", ["n", "s"], "YOLOv8-seg sizes to import.")
flags.DEFINE_integer("image_size", 320, "Input size of the forward-speed comparison.")
flags.DEFINE_integer("batch", 4, "Images per forward call.")
define_repeats(5, "Timed forward calls per framework")
flags.DEFINE_integer(
    "threads",
    1,
    "CPU threads for both frameworks (torch's OpenMP threads spin: on a shared, oversubscribed "
    "machine 2 threads ran yolov8n-seg 12x slower than 1).",
)
FLAGS = flags.FLAGS


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def import_times(size: str, folder: str):
    from ultralytics.nn.tasks import SegmentationModel

    model = SegmentationModel(f"yolov8{size}-seg.yaml", nc=80, verbose=False).eval()
    full, plain = os.path.join(folder, f"{size}.pt"), os.path.join(folder, f"{size}_state.pt")
    torch.save({"model": model, "train_args": {"imgsz": 640}}, full)
    torch.save(model.state_dict(), plain)
    runs = [
        (
            _timed(lambda: import_ultralytics(full, num_classes=None, trust_pickle=True)),
            _timed(lambda: import_ultralytics(plain, num_classes=None, trust_pickle=False)),
        )
        for _ in range(2)  # the best of two: the first also pays one-time imports and tracing
    ]
    full_s, plain_s = min(r[0][0] for r in runs), min(r[1][0] for r in runs)
    keras_model = runs[-1][0][1][0]
    print(
        f"import yolov8{size}-seg: full-object .pt {full_s:.1f} s, state_dict .pt {plain_s:.1f} s"
    )
    return model, keras_model


def forward_speed(torch_model, keras_model) -> None:
    size, batch = FLAGS.image_size, FLAGS.batch
    keras_model = with_image_size(keras_model, size)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    keras_fn = tf.function(lambda x: keras_model(x, training=False))
    tensor = torch.from_numpy(images / 255.0).float().permute(0, 3, 1, 2).contiguous()

    def torch_fn():
        with torch.no_grad():
            return torch_model(tensor)

    keras_fn(images), torch_fn()  # warm-up (tracing, allocator)
    keras_s, torch_s = [], []
    for _ in range(FLAGS.repeats):  # turns, so load changes hit both
        keras_s.append(_timed(lambda: [v.numpy() for v in keras_fn(images).values()])[0])
        torch_s.append(_timed(torch_fn)[0])
    keras_ips, torch_ips = batch / statistics.median(keras_s), batch / statistics.median(torch_s)
    print(
        f"forward {size} px, batch {batch}, {FLAGS.threads} threads: Keras {keras_ips:.1f} "
        f"images/s, torch {torch_ips:.1f} images/s"
    )
    print(f"RATIO keras/torch images/s: {keras_ips / torch_ips:.2f}")


def main(argv) -> None:
    del argv
    torch.set_num_threads(FLAGS.threads)
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    with tempfile.TemporaryDirectory() as folder:
        models = [import_times(size, folder) for size in FLAGS.sizes]
    forward_speed(*models[0])


if __name__ == "__main__":
    app.run(main)
