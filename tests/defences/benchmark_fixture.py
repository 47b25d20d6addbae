"""A tiny, really backdoored model for the training-set defences: BadNets at 10 % via a plan.

The images and CNN of `defences_fixtures`; the poisoning is `benchmark_attacks.attack_plan`
("badnet": 3×3 white square, all-to-one to class 0), applied in tf.data, so the defences are
scored against the plan's ground truth exactly as the pipeline scores them. Trained once per
test process in a few seconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from defences_fixtures import NUM_CLASSES, TARGET, build_cnn, make_images

from poison_tf.metrics import backdoorbench as bb
from poison_tf.poison.benchmark_attacks import attack_plan
from poison_tf.poison.plan import PoisonPlan


@dataclass(frozen=True)
class PoisonedWorld:
    model: keras.Model
    plan: PoisonPlan
    train_x: np.ndarray  # as the model saw it (poisoned rows stamped)
    train_y: np.ndarray  # as the model saw it (poisoned rows relabelled)
    clean_x: np.ndarray  # the defender's small clean set
    clean_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    bd_x: np.ndarray  # triggered non-target test images
    bd_y: np.ndarray  # their true labels
    before: dict


def poison_arrays(plan: PoisonPlan, x: np.ndarray, y: np.ndarray):
    ds = tf.data.Dataset.from_tensor_slices({"image": x, "label": y, "id": np.arange(len(y))})
    out = list(ds.batch(256).map(plan.map_fn()).unbatch().as_numpy_iterator())
    return np.stack([e["image"] for e in out]), np.array([e["label"] for e in out])


@functools.cache
def poisoned_world(rate: float = 0.1) -> PoisonedWorld:
    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    y = rng.integers(0, NUM_CLASSES, 800)
    x = make_images(y, rng)
    plan = attack_plan("badnet", y, rate, target=TARGET, image_size=16, seed=1)
    train_x, train_y = poison_arrays(plan, x, y)
    model = build_cnn()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(train_x, train_y, batch_size=32, epochs=10, verbose=0)
    clean_y = rng.integers(0, NUM_CLASSES, 200)
    test_y = rng.integers(0, NUM_CLASSES, 300)
    clean_x, test_x = make_images(clean_y, rng), make_images(test_y, rng)
    bd_x, bd_y = bb.attack_test_set(test_x, test_y, plan.trigger, TARGET)
    before = bb.evaluate(model, test_x, test_y, bd_x, bd_y, TARGET)
    return PoisonedWorld(
        model, plan, train_x, train_y, clean_x, clean_y, test_x, test_y, bd_x, bd_y, before
    )


NINE = 9


def nine_class_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Class c: stripes (horizontal, vertical or checker: c // 3) in colour channel c % 3."""
    rows, cols = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    x = rng.uniform(0.0, 0.15, size=(len(labels), 16, 16, 3)).astype(np.float32)
    for i, label in enumerate(labels):
        phase, level = rng.integers(0, 4), rng.uniform(0.45, 0.6)
        kind, channel = divmod(int(label), 3)
        r, c = (rows + phase) // 2 % 2, (cols + phase) // 2 % 2
        x[i, :, :, channel] += level * (r if kind == 0 else c if kind == 1 else (r + c) % 2)
    return np.clip(x, 0.0, 1.0)


def nine_class_cnn() -> keras.Model:
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(32, activation="relu", name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(NINE, activation="softmax")(x), name="nine")


@functools.cache
def nine_class_world() -> PoisonedWorld:
    """Nine classes, so that a MAD over the mask norms means something (NC used >= 10 labels)."""
    rng = np.random.default_rng(2)
    keras.utils.set_random_seed(2)
    y = rng.integers(0, NINE, 1200)
    x = nine_class_images(y, rng)
    plan = attack_plan("badnet", y, 0.1, target=TARGET, image_size=16, seed=2)
    train_x, train_y = poison_arrays(plan, x, y)
    model = nine_class_cnn()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(train_x, train_y, batch_size=32, epochs=10, verbose=0)
    clean_y, test_y = rng.integers(0, NINE, 270), rng.integers(0, NINE, 450)
    clean_x, test_x = nine_class_images(clean_y, rng), nine_class_images(test_y, rng)
    bd_x, bd_y = bb.attack_test_set(test_x, test_y, plan.trigger, TARGET)
    before = bb.evaluate(model, test_x, test_y, bd_x, bd_y, TARGET)
    return PoisonedWorld(
        model, plan, train_x, train_y, clean_x, clean_y, test_x, test_y, bd_x, bd_y, before
    )
