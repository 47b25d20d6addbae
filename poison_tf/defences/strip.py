"""STRIP (Gao et al., ACSAC 2019): a trigger survives superimposition, so predictions stay sure.

Each input is blended (alpha = 0.5, as in the paper) with N clean images drawn from a fixed
pool; a clean input's blends are classified all over the place (high entropy), a triggered
input's blends keep landing on the target class (low entropy). The score is minus the mean
Shannon entropy (nats) of the classifier's softmax over the N blends, so higher = more
suspicious, and the threshold is set for a 5 % false-rejection rate on clean data (the
paper's choice of operating point is an FRR budget, not a fixed entropy).

Decisions:
- The detector takes the `keras.Model` at construction and `save` writes it into the same
  HDF5 file (architecture JSON + weights, `h5store`), so a `STRIP.h5` is self-contained;
  `load_detector` rebuilds the classifier in Keras safe mode.
- The pool (default 100 images) is drawn once from the fit data and stored in the file.
  Clean scores for calibration use fit images outside the pool when there are enough, so no
  image is blended with itself.
- The N pool images for an input are drawn with a generator seeded by (seed, CRC32 of the
  image bytes): random across inputs, as in the paper, yet an image's score does not depend
  on its batch or position, and is identical after save/load.
"""

from __future__ import annotations

import zlib
from typing import Any

import h5py
import keras
import numpy as np

from poison_tf.defences import classifiers, h5store, streaming
from poison_tf.defences.base import Detector, register_detector
from poison_tf.errors import require


@register_detector
class StripDetector(Detector):
    """Flags inputs whose superimposed blends the classifier still labels confidently.

    Args:
        model: the classifier; never modified.
        n_blends: blends per input, in [1, pool_size].
        pool_size: clean images drawn to blend with.
        alpha: the blend's weight of the input, in (0, 1).
        from_logits: the model outputs logits.
        batch_size: images per model call.
        seed: the pool's seed.

    Raises:
        UserInputError: a bad model or setting.
    """

    kind = "strip"
    default_calibration = {"frr": 0.05}

    def __init__(
        self,
        model: keras.Model,
        n_blends: int = 32,
        pool_size: int = 100,
        alpha: float = 0.5,
        from_logits: bool = False,
        batch_size: int = 512,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.model = model
        self.model_input_shape = classifiers.input_shape_of(model)
        require(pool_size >= 1, f"StripDetector: pool_size must be >= 1, got {pool_size}")
        require(
            1 <= n_blends <= pool_size,
            f"StripDetector: n_blends must be in [1, pool_size={pool_size}], got {n_blends}",
        )
        require(0.0 < alpha < 1.0, f"StripDetector: alpha must be in (0, 1), got {alpha}")
        require(batch_size >= 1, f"StripDetector: batch_size must be >= 1, got {batch_size}")
        self.n_blends, self.pool_size, self.alpha = n_blends, pool_size, alpha
        self.from_logits, self.batch_size, self.seed = from_logits, batch_size, seed
        self.pool: np.ndarray | None = None
        self._predict = streaming.compiled(
            lambda b: model(b, training=False), self.model_input_shape
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "n_blends": self.n_blends,
            "pool_size": self.pool_size,
            "alpha": self.alpha,
            "from_logits": self.from_logits,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    def fit(self, clean_x: Any, clean_y: Any = None) -> StripDetector:
        """Draws the clean pool, scores the other clean images and sets the 5 %-FRR threshold."""
        n = streaming.check_images(clean_x, self.model_input_shape, "StripDetector.fit")
        rng = np.random.default_rng(self.seed)
        take = min(self.pool_size, n)
        require(
            take >= self.n_blends,
            f"StripDetector.fit: {n} clean images cannot fill n_blends={self.n_blends}",
        )
        pool_idx = np.sort(rng.choice(n, size=take, replace=False))
        self.pool = np.asarray(clean_x[pool_idx], dtype=np.float32)
        self.input_shape = self.model_input_shape
        scores = self.score(clean_x)  # streamed; pool members are then left out if possible
        rest = np.setdiff1d(np.arange(n), pool_idx)
        if len(rest) >= max(20, take // 2):
            scores = scores[rest]
        self.calibrate(scores, **self.default_calibration)
        return self

    def entropies(self, x: Any) -> np.ndarray:
        """Mean softmax entropy (nats) over each input's N blends, [N_inputs].

        Args:
            x: images [N, H, W, C].

        Returns:
            float64 [N].
        """
        self._check_fitted()
        streaming.check_images(x, self.input_shape, "StripDetector.score")
        per_chunk = max(1, self.batch_size // self.n_blends)
        out = [self._chunk_entropy(chunk) for chunk in streaming.iter_batches(x, per_chunk)]
        return np.concatenate(out)

    def score(self, x: Any) -> np.ndarray:
        return -self.entropies(x)

    def _chunk_entropy(self, chunk: np.ndarray) -> np.ndarray:
        draws = np.stack([self._draw(image) for image in chunk])  # [B, N]
        overlays = self.pool[draws]  # [B, N, H, W, C]
        blends = self.alpha * chunk[:, None] + (1.0 - self.alpha) * overlays
        probs = classifiers.as_probabilities(
            self._predict(blends.reshape(-1, *self.input_shape).astype(np.float32)),
            self.from_logits,
        )
        entropy = -np.sum(probs * np.log(np.clip(probs, 1e-12, None)), axis=1)
        return entropy.reshape(len(chunk), self.n_blends).mean(axis=1)

    def _draw(self, image: np.ndarray) -> np.ndarray:
        digest = zlib.crc32(np.ascontiguousarray(image, dtype=np.float32).tobytes())
        rng = np.random.default_rng([self.seed, digest])
        return rng.choice(len(self.pool), size=self.n_blends, replace=False)

    def _save_state(self, root: h5py.Group) -> None:
        h5store.write_model(root, "classifier", self.model)
        h5store.write_arrays(root, "strip", {"pool": self.pool})

    @classmethod
    def _restore(cls, root, config, path, custom_objects) -> StripDetector:
        model = h5store.read_model(root, "classifier", path, custom_objects)
        detector = cls(model, **config)
        detector.pool = h5store.read_arrays(root, "strip")["pool"].astype(np.float32)
        require(
            detector.pool.shape[1:] == detector.model_input_shape,
            f"{path}: STRIP pool images {detector.pool.shape[1:]} do not match the "
            f"classifier input {detector.model_input_shape}",
        )
        return detector
