"""Why is the `cpu` preset's Grad-CAM empty on the trigger? Grad-CAM vs gradient × activation.

The BadNets report explains one test image with Grad-CAM (channel weights = spatial means of
d yaw / d A). On the `cpu` preset's checkerboard-50 % model the triggered image's map put almost
no mass on the trigger, although the model answers (89, 0, 0) to it. This script measures, over
`--images` test images of a finished `badnets_regression` run, the share of each map's mass that
falls inside the trigger's box for the baseline and one poisoned model, at two feature layers:

- `gradcam`: ReLU(sum_c mean(dy/dA_c) A_c), the report's map;
- `grad_x_act`: ReLU(sum_c dy/dA_c ⊙ A_c) (HiResCAM, Draelos & Carin 2020): no spatial mean, so a
  channel that fires only on the trigger's few cells keeps its local gradient.

A map that ignores the trigger puts the box's area share there on average. RESULTS.md quotes:

  .venv/bin/python experiments/gradcam_trigger_share.py --run_dir=runs/badnets_cpu \
      --setting=checkerboard_50

A measurement script, not a stage: it reads the run's cached executions.
"""

from __future__ import annotations

import glob
import json
import os

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from poison_tf.components.headpose.head_pose_explainer import load_test_example, trigger_mask
from poison_tf.explain.cam_mass import mass_share
from poison_tf.explain.gradcam import feature_model
from poison_tf.poison.triggers import trigger_from_config

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", "runs/badnets_cpu", "A finished badnets_regression output folder.")
flags.DEFINE_string("setting", "checkerboard_50", "The explained poisoned model: <trigger>_<rate>.")
flags.DEFINE_integer("images", 16, "Test images to average over.")
flags.DEFINE_list(
    "layers", ["v2_stack_1_block2_out", "v2_stack_2_block2_out"], "Feature layers to explain."
)


def _one(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    if not found:
        raise SystemExit(f"error: nothing matches {pattern}: run the pipeline first")
    return found[-1]


def _shares(model: keras.Model, layer: str, images: np.ndarray, mask: np.ndarray) -> dict:
    """Mean share in the trigger of both maps on the triggered images, and the mean yaw."""
    splitter = feature_model(model, layer)
    with tf.GradientTape() as tape:
        features, outputs = splitter(images, training=False)
        yaw = outputs[:, 0]
    grads = tape.gradient(yaw, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    maps = {
        "gradcam": tf.nn.relu(tf.reduce_sum(weights * features, -1)).numpy(),
        "grad_x_act": tf.nn.relu(tf.reduce_sum(grads * features, -1)).numpy(),
    }
    result = {
        name: float(np.mean([mass_share(m, mask) or 0.0 for m in cams]))
        for name, cams in maps.items()
    }
    return result | {"map": "x".join(map(str, features.shape[1:3])), "yaw": float(np.mean(yaw))}


def main(argv):
    del argv
    pipeline = os.path.join(FLAGS.run_dir, ".pipeline")
    explanation = _one(f"{pipeline}/HeadPoseExplainer.{FLAGS.setting}/*/explanation/gradcam.json")
    examples = _one(f"{pipeline}/HeadPoseExampleGen/*/examples")
    with open(explanation) as file:  # the explainer of this setting recorded its trigger
        trigger = trigger_from_config(json.load(file)["trigger"])
    clean = [load_test_example(examples, i)[0] for i in range(FLAGS.images)]
    triggered = np.stack([trigger.apply(image).numpy() for image in clean]).astype(np.float32)
    mask = trigger_mask(trigger, *clean[0].shape[:2])
    print(f"trigger {trigger.config}, box area share {mask.mean():.4f}, {FLAGS.images} images")
    print("model | layer | map | mean yaw (triggered) | Grad-CAM share | grad x act share")
    for name in ["baseline", FLAGS.setting]:
        model = keras.models.load_model(
            _one(f"{pipeline}/HeadPoseTrainer.{name}/*/model/model.keras")
        )
        for layer in FLAGS.layers:
            s = _shares(model, layer, triggered, mask)
            print(
                f"{name} | {layer} | {s['map']} | {s['yaw']:.1f} | {s['gradcam']:.4f} | "
                f"{s['grad_x_act']:.4f}"
            )


if __name__ == "__main__":
    app.run(main)
