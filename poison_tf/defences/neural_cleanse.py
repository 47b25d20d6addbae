"""Neural Cleanse (Wang et al., S&P 2019): reverse-engineer a minimal trigger per class, flag
outliers by MAD, and unlearn the flagged triggers.

For each class t, a mask m ∈ [0, 1]^{H×W} and a pattern p ∈ [0, 1]^{H×W×C} are optimised with
`tf.GradientTape` so that x' = (1 − m)·x + m·p is classified as t on clean images, while the L1
norm of m is kept small: loss = CE(t, f(x')) + cost·|m|₁. A backdoor target needs a far smaller
mask than any other class. Follows `defense/nc.py` of SCLBD/BackdoorBench @ f02e353 and its
`config/defense/nc/cifar10.yaml`:
- parametrisation m = tanh(m̃)/(2 + ε) + 0.5 (same for p), Adam lr `mask_lr` 0.1, betas (0.5, 0.9);
- cost starts at `init_cost` 1e-3; after `patience` 5 epochs with attack accuracy ≥
  `atk_succ_threshold` (98 %) it is multiplied by `cost_multiplier` 2, after 5 below it divided by
  2^1.5; the best mask is the smallest-norm one reaching the threshold; early stop after
  `early_stop_patience` 25 epochs without a 1 % (`early_stop_threshold` 0.99) improvement once
  the cost has moved both ways; `nc_epoch` 80 epochs at most;
- outliers: consistency constant 1.4826, MAD = 1.4826·median(|l1 − median|), anomaly index
  |l1 − median| / MAD, flagged = below the median and index > 2 (`outlier_detection`);
- unlearning: from the defender's clean data (BackdoorBench: `ratio` 5 % of the training set),
  `unlearning_ratio` 20 % is stamped with every flagged class's recovered trigger, labels kept,
  and the model is fine-tuned on the union. Nothing flagged: the model is returned unchanged.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from poison_tf.defences import classifiers, training
from poison_tf.errors import require

CONSISTENCY = 1.4826
EPSILON = 1e-7


@dataclasses.dataclass
class NeuralCleanse:
    """Per-class trigger reverse engineering, MAD outlier test and unlearning.

    Attributes:
        model: the classifier to inspect; never modified.
        epochs: optimisation epochs per class.
        init_cost: the first weight of the mask's L1 norm.
        mask_lr: Adam's rate for the mask and pattern.
        atk_succ_threshold: attack success that counts as a trigger found.
        patience: epochs before the cost is raised or lowered.
        cost_multiplier: the factor the cost moves by.
        early_stop_patience: epochs without improvement before stopping.
        early_stop_threshold: relative improvement that counts.
        batch_size: images per step.
        unlearning_ratio: share of the clean images stamped with each recovered trigger.
        unlearning_epochs: fine-tuning epochs of `unlearn`.
        unlearning_lr: fine-tuning rate of `unlearn`.
        seed: initialisation and shuffling seed.
    """

    model: keras.Model
    epochs: int = 80
    init_cost: float = 1e-3
    mask_lr: float = 0.1
    atk_succ_threshold: float = 0.98
    patience: int = 5
    cost_multiplier: float = 2.0
    early_stop_patience: int = 25
    early_stop_threshold: float = 0.99
    batch_size: int = 256
    unlearning_ratio: float = 0.2
    unlearning_epochs: int = 10
    unlearning_lr: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        self.input_shape = classifiers.input_shape_of(self.model)
        self.num_classes = int(self.model.outputs[0].shape[-1])
        height, width, channels = self.input_shape
        rng = np.random.default_rng(self.seed)
        # keras.Variable, not tf.Variable: Keras 3 optimizers silently skip raw tf.Variables
        self._mask = keras.Variable(rng.normal(size=(height, width, 1)).astype(np.float32))
        self._pattern = keras.Variable(
            rng.normal(size=(height, width, channels)).astype(np.float32)
        )
        self._cost = keras.Variable(self.init_cost, dtype="float32", trainable=False)
        self._optimizer = keras.optimizers.Adam(self.mask_lr, beta_1=0.5, beta_2=0.9)
        self._optimizer.build([self._mask, self._pattern])
        self._step = tf.function(self._train_step)

    def _raw(self) -> tuple[tf.Tensor, tf.Tensor]:
        mask = tf.tanh(self._mask) / (2 + EPSILON) + 0.5
        pattern = tf.tanh(self._pattern) / (2 + EPSILON) + 0.5
        return mask, pattern

    def _train_step(self, images: tf.Tensor, target: tf.Tensor):
        with tf.GradientTape() as tape:
            mask, pattern = self._raw()
            stamped = (1 - mask) * images + mask * pattern
            probs = self.model(stamped, training=False)
            labels = tf.fill([tf.shape(images)[0]], target)
            ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
            l1 = tf.reduce_sum(tf.abs(mask))
            loss = ce + self._cost * l1
        grads = tape.gradient(loss, [self._mask, self._pattern])
        self._optimizer.apply_gradients(zip(grads, [self._mask, self._pattern]))
        hits = tf.reduce_sum(
            tf.cast(tf.argmax(probs, -1, output_type=tf.int32) == target, tf.float32)
        )
        return hits, l1

    def _reset(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._mask.assign(rng.normal(size=self._mask.shape).astype(np.float32))
        self._pattern.assign(rng.normal(size=self._pattern.shape).astype(np.float32))
        self._cost.assign(self.init_cost)
        for variable in self._optimizer.variables:  # moments and step count, not the rate
            if "learning_rate" not in variable.path:
                variable.assign(tf.zeros_like(variable))

    def reverse_engineer(self, images: np.ndarray, target: int) -> dict:
        """The smallest-norm (mask [H, W, 1], pattern [H, W, C]) sending `images` to `target`.

        Args:
            images: clean images [N, H, W, C] in [0, 1].
            target: the class to send them to.

        Returns:
            {"l1": the mask's norm, "mask", "pattern", "attack_acc"}.

        Raises:
            UserInputError: no images.
        """
        self._reset()
        data = tf.data.Dataset.from_tensor_slices(images.astype(np.float32))
        data = data.shuffle(len(images), seed=self.seed).batch(self.batch_size)
        target_t = tf.constant(target, tf.int32)
        best = None  # (l1, mask, pattern, acc)
        up = down = early = 0
        moved_up = moved_down = False
        for _ in range(self.epochs):
            hits = norm = 0.0
            for batch in data:
                h, n = self._step(batch, target_t)
                hits += float(h)
                norm = float(n)
            acc = hits / len(images)
            mask, pattern = (t.numpy() for t in self._raw())
            if acc >= self.atk_succ_threshold and (best is None or norm < best[0]):
                improved = best is None or norm < self.early_stop_threshold * best[0]
                best = (norm, mask, pattern, acc)
                early = 0 if improved else early + 1
            else:
                early += 1
            if moved_up and moved_down and early >= self.early_stop_patience:
                break
            up, down = (up + 1, 0) if acc >= self.atk_succ_threshold else (0, down + 1)
            if up >= self.patience:
                up, moved_up = 0, True
                self._cost.assign(self._cost * self.cost_multiplier)
            elif down >= self.patience:
                down, moved_down = 0, True
                self._cost.assign(self._cost / self.cost_multiplier**1.5)
        if best is None:  # never reached the threshold: keep the last mask, say so
            best = (float(np.abs(mask).sum()), mask, pattern, acc)
        l1, mask, pattern, acc = best
        return {"l1": float(l1), "mask": mask, "pattern": pattern, "attack_acc": float(acc)}

    def detect(self, images: np.ndarray, classes: list[int] | None = None) -> dict:
        """Reverse-engineers every class and runs the MAD outlier test on the mask norms.

        Args:
            images: clean images [N, H, W, C] in [0, 1].
            classes: the classes to test (default: all).

        Returns:
            {"l1": [K], "anomaly_index": [K], "flagged": labels sorted by norm,
             "detected": the smallest-norm flagged label or None, "median", "mad",
             "triggers": {label: result of `reverse_engineer`}}.

        Raises:
            UserInputError: no images.
        """
        require(len(images) > 0, "neural cleanse: no clean images to reverse-engineer with")
        classes = list(range(self.num_classes)) if classes is None else list(classes)
        triggers = {c: self.reverse_engineer(images, c) for c in classes}
        norms = np.array([triggers[c]["l1"] for c in classes])
        median = float(np.median(norms))
        mad = CONSISTENCY * float(np.median(np.abs(norms - median)))
        index = np.abs(norms - median) / max(mad, 1e-12)
        flagged = [c for c, n, a in zip(classes, norms, index) if n <= median and a > 2]
        flagged.sort(key=lambda c: triggers[c]["l1"])
        return {
            "classes": classes,
            "l1": norms.tolist(),
            "anomaly_index": index.tolist(),
            "min_anomaly_index": float(index[int(np.argmin(norms))]),
            "flagged": flagged,
            "detected": flagged[0] if flagged else None,
            "median": median,
            "mad": mad,
            "triggers": triggers,
        }

    def unlearn(self, images: np.ndarray, labels: np.ndarray, detection: dict) -> keras.Model:
        """A fine-tuned copy of the model that un-learns every flagged trigger (labels kept).

        Args:
            images: clean images [N, H, W, C] in [0, 1].
            labels: their labels [N].
            detection: the result of `detect`.

        Returns:
            The fine-tuned copy (a plain copy when nothing was flagged).
        """
        model = training.clone(self.model)
        if not detection["flagged"]:
            return model
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(images))
        cut = int(len(images) * (1 - self.unlearning_ratio))
        parts_x, parts_y = [images[order[:cut]]], [labels[order[:cut]]]
        for label in detection["flagged"]:
            trig = detection["triggers"][label]
            chosen = images[order[cut:]]
            parts_x.append((1 - trig["mask"]) * chosen + trig["mask"] * trig["pattern"])
            parts_y.append(labels[order[cut:]])
        return training.train(
            model,
            np.concatenate(parts_x).astype(np.float32),
            np.concatenate(parts_y),
            self.unlearning_epochs,
            learning_rate=self.unlearning_lr,
            batch_size=min(self.batch_size, 128),
            seed=self.seed,
        )


def trigger_image(result: dict) -> np.ndarray:
    """The recovered trigger as an RGB uint8 image: mask · pattern.

    Args:
        result: one `reverse_engineer` result.

    Returns:
        uint8 [H, W, C].
    """
    return np.round(np.clip(result["mask"] * result["pattern"], 0, 1) * 255).astype(np.uint8)
