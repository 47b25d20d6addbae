"""VAE reconstruction-error detector: the CSAW-HackML "VAE.h5" baseline, for any image shape.

A convolutional VAE trained on clean validation images only learns to reproduce clean faces;
a trigger (sunglasses, lipstick) is not in its training distribution, so it comes back
poorly reconstructed. The score is the per-image mean absolute error between an image and
the decoder's *mean* reconstruction of the encoder's *mean* latent (no sampling at score time,
so scores are deterministic), and the threshold is mean + k·std (k = 1) of the clean scores, as
in the original study (rishiraj824), or the quantile for a chosen false-rejection rate (`frr`).
The threshold statistics come from a held-out share of the clean data (`holdout`, 20 %) that
the VAE never trains on: reconstruction errors of training images are lower than those of
unseen clean images, so statistics of the fitted images put the threshold too low (on LFW,
mean + 1·std of the fitted images rejected 46 % of clean test faces, held-out statistics 16 %).
The original hard-coded 56×48 zero padding; here the input is padded to a multiple of 4 and
the output cropped back, which gives the same 56×48 for HackML's 55×47 and works for any
(H, W, C) in [0, 1]. The training objective is the usual VAE one (the Keras VAE example):
per-image summed Bernoulli cross-entropy of the decoder's sigmoid means plus the KL term of
the reparameterised Gaussian posterior.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import keras
import numpy as np
import tensorflow as tf

from poison_tf.defences import h5store, streaming
from poison_tf.defences.base import Detector, register_detector
from poison_tf.errors import require


def _init(seed: int, index: int) -> keras.initializers.Initializer:
    # Per-layer seeded initialisers make the VAE reproducible without touching global RNGs.
    return keras.initializers.GlorotUniform(seed=seed * 1000 + index)


def build_encoder(input_shape: tuple[int, ...], latent_dim: int, seed: int = 0) -> keras.Model:
    """Image -> (z_mean, z_log_var); two stride-2 convolutions on the padded image.

    Args:
        input_shape: (H, W, C).
        latent_dim: size of z.
        seed: the initialisers' seed.

    Returns:
        The encoder model.
    """
    h, w, _ = input_shape
    pad_h, pad_w = -h % 4, -w % 4
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.ZeroPadding2D(((0, pad_h), (0, pad_w)), name="pad")(inputs)
    x = keras.layers.Conv2D(
        32,
        3,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=_init(seed, 0),
        name="enc_conv_1",
    )(x)
    x = keras.layers.Conv2D(
        64,
        3,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=_init(seed, 1),
        name="enc_conv_2",
    )(x)
    x = keras.layers.Flatten(name="enc_flatten")(x)
    z_mean = keras.layers.Dense(latent_dim, kernel_initializer=_init(seed, 2), name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, kernel_initializer=_init(seed, 3), name="z_log_var")(
        x
    )
    return keras.Model(inputs, [z_mean, z_log_var], name="vae_encoder")


def build_decoder(input_shape: tuple[int, ...], latent_dim: int, seed: int = 0) -> keras.Model:
    """z -> Bernoulli means in [0, 1] of the image, cropped back to `input_shape`.

    Args:
        input_shape: (H, W, C) of the images to rebuild.
        latent_dim: size of z.
        seed: the initialisers' seed.

    Returns:
        The decoder model.
    """
    h, w, c = input_shape
    hp, wp = math.ceil(h / 4) * 4, math.ceil(w / 4) * 4
    z = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(
        (hp // 4) * (wp // 4) * 64,
        activation="relu",
        kernel_initializer=_init(seed, 4),
        name="dec_dense",
    )(z)
    x = keras.layers.Reshape((hp // 4, wp // 4, 64), name="dec_reshape")(x)
    x = keras.layers.Conv2DTranspose(
        64,
        3,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=_init(seed, 5),
        name="dec_deconv_1",
    )(x)
    x = keras.layers.Conv2DTranspose(
        32,
        3,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=_init(seed, 6),
        name="dec_deconv_2",
    )(x)
    x = keras.layers.Conv2D(
        c,
        3,
        padding="same",
        activation="sigmoid",
        kernel_initializer=_init(seed, 7),
        name="dec_out",
    )(x)
    x = keras.layers.Cropping2D(((0, hp - h), (0, wp - w)), name="crop")(x)
    return keras.Model(z, x, name="vae_decoder")


class ConvVAE(keras.Model):
    """Encoder + decoder with the VAE objective in `train_step` (usable with `fit`).

    Args:
        encoder: image → (z_mean, z_log_var).
        decoder: z → image.
        seed: the sampling noise's seed.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("loss", "reconstruction", "kl")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, x, training=False):
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(x, training=True)
            eps = keras.random.normal(tf.shape(z_mean), seed=self.noise_seed)
            z = z_mean + tf.exp(0.5 * z_log_var) * eps  # reparameterisation
            mean = tf.clip_by_value(self.decoder(z, training=True), 1e-6, 1.0 - 1e-6)
            bce = -(x * tf.math.log(mean) + (1.0 - x) * tf.math.log(1.0 - mean))
            reconstruction = tf.reduce_mean(tf.reduce_sum(bce, axis=[1, 2, 3]))
            kl = tf.reduce_mean(
                -0.5
                * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
            )
            loss = reconstruction + kl
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        for name, value in (("loss", loss), ("reconstruction", reconstruction), ("kl", kl)):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}


@register_detector
class VAEDetector(Detector):
    """Flags images the clean-trained VAE reconstructs badly (score = mean |x - x̂|).

    Args:
        latent_dim: size of z, >= 1.
        epochs: training epochs, >= 1.
        batch_size: images per step.
        learning_rate: Adam's rate.
        seed: split, shuffle and initialisation seed.
        holdout: share of the clean images kept to calibrate, in [0, 1).
        k: the mean + k·std threshold rule's k.
        frr: calibrate at this false-rejection rate instead (None: the k rule).

    Raises:
        UserInputError: a setting out of its range.
    """

    kind = "vae"

    def __init__(
        self,
        latent_dim: int = 128,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        seed: int = 0,
        holdout: float = 0.2,
        k: float = 1.0,
        frr: float | None = None,
    ) -> None:
        super().__init__()
        require(latent_dim >= 1, f"VAEDetector: latent_dim must be >= 1, got {latent_dim}")
        require(epochs >= 1, f"VAEDetector: epochs must be >= 1, got {epochs}")
        require(batch_size >= 1, f"VAEDetector: batch_size must be >= 1, got {batch_size}")
        require(0.0 <= holdout < 1.0, f"VAEDetector: holdout must be in [0, 1), got {holdout}")
        require(frr is None or 0.0 < frr < 1.0, f"VAEDetector: frr must be in (0, 1), got {frr}")
        self.latent_dim, self.epochs, self.batch_size = latent_dim, epochs, batch_size
        self.learning_rate, self.seed = learning_rate, seed
        self.holdout, self.k, self.frr = holdout, k, frr
        self.vae: ConvVAE | None = None
        self.history: dict[str, list[float]] = {}
        self.calibration_indices: np.ndarray | None = None  # held-out rows behind the threshold
        self._fns: dict[str, Any] = {}  # compiled score / reconstruct functions

    def get_config(self) -> dict[str, Any]:
        return {
            "latent_dim": self.latent_dim,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            "holdout": self.holdout,
            "k": self.k,
            "frr": self.frr,
        }

    def fit(self, clean_x: Any, clean_y: Any = None) -> VAEDetector:
        """Trains the VAE on clean images (labels unused) minus a held-out share, whose scores
        set the threshold (mean + k·std, or the `frr` quantile); `holdout=0` uses the fitted
        images themselves, which puts the threshold too low."""
        n = streaming.check_images(clean_x, None, "VAEDetector.fit")
        shape = tuple(int(d) for d in clean_x.shape[1:])
        self.input_shape = shape
        n_hold = round(self.holdout * n)
        require(
            self.holdout == 0 or 2 <= n_hold <= n - 2,
            f"VAEDetector.fit: holdout={self.holdout} of {n} clean images leaves too few to "
            "train on or to calibrate with",
        )
        perm = np.random.default_rng(self.seed).permutation(n)
        calibration = np.sort(perm[:n_hold]) if n_hold else np.arange(n)
        train_x = _rows(clean_x, np.sort(perm[n_hold:])) if n_hold else clean_x
        self.vae = ConvVAE(
            build_encoder(shape, self.latent_dim, self.seed),
            build_decoder(shape, self.latent_dim, self.seed),
            seed=self.seed,
        )
        self.vae.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        rng = np.random.default_rng(self.seed)
        data = tf.data.Dataset.from_generator(
            lambda: (
                xb for xb, _ in streaming.shuffled_batches(train_x, None, self.batch_size, rng)
            ),
            output_signature=tf.TensorSpec((None, *shape), tf.float32),
        ).repeat()  # the generator is re-invoked, so each epoch has a fresh shuffle
        steps = math.ceil(len(train_x) / self.batch_size)
        history = self.vae.fit(
            data, epochs=self.epochs, steps_per_epoch=steps, shuffle=False, verbose=0
        )
        self.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        self._fns = {}
        self.calibration_indices = calibration
        scores = self.score(_rows(clean_x, calibration))
        if self.frr is None:
            self.calibrate(scores, k=self.k)
        else:
            self.calibrate(scores, frr=self.frr)
        return self

    def reconstruct(self, x: Any) -> np.ndarray:
        """Deterministic reconstructions (decoder mean at the latent mean), batch by batch.

        Args:
            x: images [N, H, W, C].

        Returns:
            float32 [N, H, W, C].
        """
        self._check_fitted()
        streaming.check_images(x, self.input_shape, "VAEDetector.reconstruct")
        return streaming.map_batches(self._compiled("reconstruct"), x, self.batch_size)

    def score(self, x: Any) -> np.ndarray:
        self._check_fitted()
        streaming.check_images(x, self.input_shape, "VAEDetector.score")
        errors = streaming.map_batches(self._compiled("score"), x, self.batch_size)
        return errors.astype(np.float64)

    def _compiled(self, which: str):
        cache = self._fns
        if which not in cache:

            def reconstruct(batch):
                return self.vae(batch, training=False)

            def score(batch):
                return tf.reduce_mean(tf.abs(batch - reconstruct(batch)), axis=[1, 2, 3])

            fn = {"reconstruct": reconstruct, "score": score}[which]
            cache[which] = streaming.compiled(fn, self.input_shape)
        return cache[which]

    def _save_state(self, root: h5py.Group) -> None:
        h5store.write_model(root, "encoder", self.vae.encoder)
        h5store.write_model(root, "decoder", self.vae.decoder)

    @classmethod
    def _restore(cls, root, config, path, custom_objects) -> VAEDetector:
        detector = cls(**config)
        encoder = h5store.read_model(root, "encoder", path)
        decoder = h5store.read_model(root, "decoder", path)
        detector.vae = ConvVAE(encoder, decoder, seed=detector.seed)
        detector.input_shape = tuple(int(d) for d in encoder.inputs[0].shape[1:])
        return detector


def _rows(x: Any, indices: np.ndarray) -> Any:
    """Rows of an in-memory array as an array; of anything else (h5, memmap) as a lazy Subset."""
    return x[indices] if isinstance(x, np.ndarray) else streaming.Subset(x, indices)
