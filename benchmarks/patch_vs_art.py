"""Patch optimisation steps/s: ours (`optimise_patch`, one tf.function step) vs ART's eager attack.

ART (adversarial-robustness-toolbox, the `bench` extra) ships `AdversarialPatchTensorFlowV2`,
the reference TF2 implementation of the adversarial patch. Its `_train_step` runs eagerly and
draws each image's rotation / scale / shift in a Python loop. Both sides here attack the same
Keras model object (ART through its `TensorFlowV2Classifier` wrapper, which calls the model
directly), with the same batch size and image size, targeted, Adam. One ART step is one batch:
ART's `max_iter` counts passes over `x`, so it is given exactly one batch of images.

The patch parameterisations differ by design (ours: k×k cells rendered to pixels; ART: a free
pixel patch with a circular mask), which is cheap next to the model's forward + backward pass.
For the closest comparison our side runs with EOT on (random rotation and scale per image, as
ART always does); our plain placement (no EOT) is timed too.

The sides alternate in rounds (ours, ART, ours, ART, ...) so a burst of load from other
programs hits both; the first call of each side (tracing, warm-up) is not timed. The headline
is what a reader computes from the printed columns: each side's total steps over its total
seconds (all rounds), and their ratio; the median over rounds of the per-round ratio, which
resists a burst of load in one round, is printed beside it.

    .venv/bin/python benchmarks/patch_vs_art.py                       # ResNet50 and the small CNN
    .venv/bin/python benchmarks/patch_vs_art.py --models=resnet50 --image_size=224 --batch_size=64

Without ART installed it says so and exits 0 (CI does not install the `bench` extra).
"""

from __future__ import annotations

import importlib.util
import statistics
import time

from absl import app, flags
from benchmark_flags import define_seed

flags.DEFINE_list(
    "models", ["small", "resnet50"], "Victims: small (the demo's residual CNN) and/or resnet50."
)
flags.DEFINE_integer("image_size", 32, "Image side in pixels (both sides).")
flags.DEFINE_integer("batch_size", 32, "Images per optimisation step (both sides).")
flags.DEFINE_integer("steps", 10, "Timed steps per side per round.")
flags.DEFINE_integer("rounds", 3, "Alternating timed rounds per side.")
flags.DEFINE_float("patch_fraction", 0.15, "Patch area as a share of the image (both sides).")
define_seed(0, "the model weights and the images")

FLAGS = flags.FLAGS
NUM_CLASSES = 10


def build_model(name: str, size: int):
    import keras

    from poison_tf.models.small_classifier import build_small_classifier

    keras.utils.set_random_seed(FLAGS.seed)
    if name == "resnet50":
        return keras.applications.ResNet50(
            weights=None, input_shape=(size, size, 3), classes=NUM_CLASSES
        )
    if name == "small":
        return build_small_classifier((size, size, 3), NUM_CLASSES, width=32)
    raise app.UsageError(f"--models: unknown model {name!r} (use small, resnet50)")


class Ours:
    """`optimise_patch` for `steps` steps; steps/s from the per-step callback's clock after step 0."""

    def __init__(self, model, images, labels, eot: bool):
        import tensorflow as tf

        from poison_tf.attacks.grid_patch import PatchGeometry, patch_side

        size = images.shape[1]
        self.model, self.eot = model, eot
        cells = min(
            10, patch_side(size, size, FLAGS.patch_fraction)
        )  # the study's 10×10 where it fits
        self.geometry = PatchGeometry(size, size, FLAGS.patch_fraction, cells).check()
        self.dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()

    def steps_per_second(self, steps: int) -> float:
        from poison_tf.attacks.patch_optimizer import PatchConfig, optimise_patch

        stamps: list[float] = []
        config = PatchConfig(
            target=0, steps=steps + 1, batch_size=FLAGS.batch_size, eot=self.eot, seed=FLAGS.seed
        )
        optimise_patch(
            self.model,
            self.dataset,
            self.geometry,
            config,
            on_step=lambda step, loss, colours: stamps.append(time.perf_counter()),
        )
        return steps / (stamps[-1] - stamps[0])  # step 0 (tracing) is excluded


class Art:
    """ART's AdversarialPatchTensorFlowV2 on one batch, so that one iteration is one step."""

    def __init__(self, model, images, labels):
        import numpy as np
        from art.attacks.evasion import AdversarialPatchTensorFlowV2
        from art.estimators.classification import TensorFlowV2Classifier

        size = images.shape[1]
        classifier = TensorFlowV2Classifier(
            model=model, nb_classes=NUM_CLASSES, input_shape=(size, size, 3), clip_values=(0.0, 1.0)
        )
        scale = FLAGS.patch_fraction**0.5  # ART's patch is resized to the image side, then scaled
        self.attack = AdversarialPatchTensorFlowV2(
            classifier,
            scale_min=scale,
            scale_max=scale,
            learning_rate=0.05,
            max_iter=1,
            batch_size=FLAGS.batch_size,
            targeted=True,
            verbose=False,
        )
        self.images = images[: FLAGS.batch_size]
        self.targets = np.eye(NUM_CLASSES, dtype=np.float32)[np.zeros(len(self.images), int)]
        before = self.attack._patch.numpy().copy()
        self.attack.generate(
            self.images, self.targets
        )  # warm-up; also proves ART's step updates its patch
        self.moved = float(np.abs(self.attack._patch.numpy() - before).max())

    def steps_per_second(self, steps: int) -> float:
        self.attack.set_params(max_iter=steps)
        start = time.perf_counter()
        self.attack.generate(self.images, self.targets)
        return steps / (time.perf_counter() - start)


def compare(name: str) -> None:
    import numpy as np

    size, batch = FLAGS.image_size, FLAGS.batch_size
    model = build_model(name, size)
    rng = np.random.default_rng(FLAGS.seed)
    images = rng.uniform(0, 1, [4 * batch, size, size, 3]).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, 4 * batch)
    sides = {
        "ours (EOT)": Ours(model, images, labels, eot=True),
        "ours (plain)": Ours(model, images, labels, eot=False),
        "ART": Art(model, images, labels),
    }
    rates: dict[str, list[float]] = {key: [] for key in sides}
    for _ in range(FLAGS.rounds):
        for key, side in sides.items():
            rates[key].append(side.steps_per_second(FLAGS.steps))
    print(
        f"\n{name}: {model.count_params():,} params, {size}×{size} px, batch {batch}, "
        f"{FLAGS.steps} steps × {FLAGS.rounds} rounds per side"
    )
    # every round runs FLAGS.steps steps, so total steps / total seconds = the harmonic mean
    totals = {key: len(values) / sum(1.0 / v for v in values) for key, values in rates.items()}
    for key, values in rates.items():
        print(
            f"  {key:13s} steps/s: {totals[key]:.2f} (total steps / total s)  rounds "
            + " ".join(f"{v:.2f}" for v in values)
        )
    print(
        f"  ART's patch moved by up to {sides['ART'].moved:.3f} in its warm-up step (0 would mean no update)"
    )
    for key in ("ours (EOT)", "ours (plain)"):
        ratio = totals[key] / totals["ART"]
        median = statistics.median(a / b for a, b in zip(rates[key], rates["ART"]))
        verdict = "meets" if ratio >= 3 else "below"
        print(
            f"RATIO {name} {key}/ART steps/s: {ratio:.2f}x total steps / total time "
            f"(median of per-round ratios {median:.2f}x; goal >= 3: {verdict})"
        )


def main(argv: list[str]) -> None:
    del argv
    if importlib.util.find_spec("art") is None:
        print(
            "adversarial-robustness-toolbox is not installed; nothing to compare "
            "(pip install 'adversarial-robustness-toolbox==1.20.1', the `bench` extra)."
        )
        return
    for name in FLAGS.models:
        compare(name)


if __name__ == "__main__":
    app.run(main)
