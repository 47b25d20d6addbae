"""Feature-space detector: Mahalanobis distance to the clean Gaussian of the predicted class.

A triggered input reaches the target class through the backdoor's features, not the
target's own, so in penultimate-layer space it lies away from where clean images of its
*predicted* class lie (the observation behind spectral signatures, Tran et al. 2018, and the
Mahalanobis detector of Lee et al. 2018). The model is a class-conditional Gaussian fitted
on clean data only: one mean per class, one shared covariance of the class-centred features,
shrunk with Ledoit-Wolf (scikit-learn), because HackML's clean validation set has only 9
images per class in a 160-d feature space. Score = Mahalanobis distance of the input's
features to the mean of the class the classifier predicts.

Decisions:
- Spectral signatures proper (projection on the top singular vector of a class's centred
  features) needs poisoned examples in the set it decomposes; fitted on clean data only,
  that direction is just clean variance, so it is not offered as an input detector.
- Class means come from the labels when `fit` gets them, else from the predicted classes.
  A predicted class that had no clean example falls back to the global mean.
- Calibration uses out-of-fold distances (`n_folds`-fold cross-fitting of the means and the
  covariance). In-sample distances are too small, the more so with few images per class,
  and would set the 5 %-FRR threshold too low for unseen clean inputs; out-of-fold means
  from (n_folds-1)/n_folds of a class err on the conservative side instead.
- Images are streamed in batches; the N×D feature matrix of the fit data is held in memory.
"""

from __future__ import annotations

from typing import Any

import h5py
import keras
import numpy as np
from sklearn.covariance import LedoitWolf

from poison_tf.defences import classifiers, h5store, streaming
from poison_tf.defences.base import Detector, register_detector
from poison_tf.errors import require


@register_detector
class MahalanobisDetector(Detector):
    """Flags inputs whose penultimate features are far from their predicted class's clean ones.

    Args:
        model: the classifier whose features are read; never modified.
        layer: the feature layer (default: the penultimate one).
        n_folds: folds of the out-of-fold calibration, >= 2.
        batch_size: images per model call.
        seed: the folds' seed.

    Raises:
        UserInputError: a bad model, layer or setting.
    """

    kind = "mahalanobis"
    default_calibration = {"frr": 0.05}

    def __init__(
        self,
        model: keras.Model,
        layer: str | None = None,
        n_folds: int = 5,
        batch_size: int = 512,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.model = model
        self.model_input_shape = classifiers.input_shape_of(model)
        self.layer = layer or classifiers.penultimate_layer(model)
        require(batch_size >= 1, f"MahalanobisDetector: batch_size must be >= 1, got {batch_size}")
        require(n_folds >= 2, f"MahalanobisDetector: n_folds must be >= 2, got {n_folds}")
        self.batch_size, self.n_folds, self.seed = batch_size, n_folds, seed
        feature_model = classifiers.feature_and_output_model(model, self.layer)
        self._forward = streaming.compiled(
            lambda b: tuple(feature_model(b, training=False)), self.model_input_shape
        )
        self.classes: np.ndarray | None = None  # class ids with clean examples, sorted
        self.means: np.ndarray | None = None  # [K, D]
        self.global_mean: np.ndarray | None = None  # [D]
        self.precision: np.ndarray | None = None  # [D, D]

    def get_config(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "n_folds": self.n_folds,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    def features(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(flattened features [N, D] float64, predicted classes [N]).

        Args:
            x: images [N, H, W, C].

        Returns:
            (features, predicted classes).
        """
        streaming.check_images(x, self.model_input_shape, "MahalanobisDetector")
        feats, outputs = streaming.map_batches(self._forward, x, self.batch_size)
        return feats.reshape(len(feats), -1).astype(np.float64), np.argmax(outputs, axis=1)

    def fit(self, clean_x: Any, clean_y: Any = None) -> MahalanobisDetector:
        """Fits class means + shared Ledoit-Wolf covariance; calibrates at 5 % out-of-fold FRR."""
        feats, predicted = self.features(clean_x)
        labels = predicted if clean_y is None else np.asarray(clean_y).astype(np.int64).ravel()
        n = len(feats)
        require(len(labels) == n, f"MahalanobisDetector.fit: {len(labels)} labels for {n} images")
        require(
            n >= 2 * self.n_folds,
            f"MahalanobisDetector.fit: needs at least {2 * self.n_folds} clean images, got {n}",
        )
        folds = np.random.default_rng(self.seed).permutation(n) % self.n_folds
        out_of_fold = np.empty(n)
        for k in range(self.n_folds):
            held = folds == k
            gaussian = _fit_gaussian(feats[~held], labels[~held])
            out_of_fold[held] = _distance_to_class(feats[held], predicted[held], *gaussian)
        self.classes, self.means, self.global_mean, self.precision = _fit_gaussian(feats, labels)
        self.input_shape = self.model_input_shape
        self.calibrate(out_of_fold, **self.default_calibration)
        return self

    def score(self, x: Any) -> np.ndarray:
        self._check_fitted()
        feats, predicted = self.features(x)
        return _distance_to_class(
            feats, predicted, self.classes, self.means, self.global_mean, self.precision
        )

    def _save_state(self, root: h5py.Group) -> None:
        h5store.write_model(root, "classifier", self.model)
        h5store.write_arrays(
            root,
            "gaussian",
            {
                "classes": self.classes,
                "means": self.means,
                "global_mean": self.global_mean,
                "precision": self.precision,
            },
        )

    @classmethod
    def _restore(cls, root, config, path, custom_objects) -> MahalanobisDetector:
        model = h5store.read_model(root, "classifier", path, custom_objects)
        detector = cls(model, **config)
        arrays = h5store.read_arrays(root, "gaussian")
        detector.classes, detector.means = arrays["classes"], arrays["means"]
        detector.global_mean, detector.precision = arrays["global_mean"], arrays["precision"]
        return detector


def _fit_gaussian(feats: np.ndarray, labels: np.ndarray):
    """(classes, class means [K, D], global mean [D], shared Ledoit-Wolf precision [D, D])."""
    classes, inverse = np.unique(labels, return_inverse=True)
    means = np.stack([feats[inverse == k].mean(axis=0) for k in range(len(classes))])
    precision = LedoitWolf(assume_centered=True).fit(feats - means[inverse]).precision_
    return classes, means, feats.mean(axis=0), precision


def _distance_to_class(feats, predicted, classes, means, global_mean, precision) -> np.ndarray:
    """Distance of each row to its predicted class's mean (the global mean if unseen)."""
    pos = np.minimum(np.searchsorted(classes, predicted), len(classes) - 1)
    seen = classes[pos] == predicted
    centres = np.where(seen[:, None], means[pos], global_mean[None, :])
    return _distance(feats - centres, precision)


def _distance(offsets: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Row-wise sqrt(o^T P o), clipped at 0 against round-off."""
    return np.sqrt(np.maximum(np.sum((offsets @ precision) * offsets, axis=1), 0.0))
