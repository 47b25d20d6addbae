"""Learning-rate schedules: linear warm-up, then cosine or linear decay (Ultralytics-style).

From-scratch detectors diverge if Adam starts at its full rate, so Ultralytics ramps the rate
linearly over max(3 epochs, 100 steps) and then decays it (linear `lrf` by default, cosine with
`cos_lr`). One schedule covers both; its cosine branch equals keras' `CosineDecay` with
`warmup_target` (the decay the head-pose task already uses), which the tests check.
The schedule is a function of `optimizer.iterations`, so a resumed run continues it exactly.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from poison_tf.errors import require

DECAYS = ("cosine", "linear", "constant")


def warmup_steps_for(steps_per_epoch: int, warmup_epochs: float = 3.0, minimum: int = 100) -> int:
    """Ultralytics' warm-up length: max(round(warmup_epochs · steps per epoch), minimum)."""
    return max(round(warmup_epochs * steps_per_epoch), minimum)


@keras.saving.register_keras_serializable(package="poison_tf")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 → `peak` linearly over `warmup_steps`, then `decay` down to `final_fraction · peak` at
    `total_steps` (held there after)."""

    def __init__(
        self,
        peak: float,
        total_steps: int,
        warmup_steps: int = 0,
        decay: str = "cosine",
        final_fraction: float = 0.01,
    ):
        require(decay in DECAYS, f"learning-rate decay {decay!r} is not one of {DECAYS}")
        require(
            total_steps > 0 and warmup_steps >= 0,
            f"schedule needs total_steps > 0 and warmup_steps >= 0, got {total_steps}, "
            f"{warmup_steps}",
        )
        self.peak, self.total_steps, self.warmup_steps = (
            float(peak),
            int(total_steps),
            int(warmup_steps),
        )
        self.decay, self.final_fraction = decay, float(final_fraction)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * step / max(self.warmup_steps, 1)
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        if self.decay == "cosine":
            shape = 0.5 * (1.0 + tf.cos(math.pi * progress))
        elif self.decay == "linear":
            shape = 1.0 - progress
        else:
            shape = tf.ones_like(progress)
        decayed = self.peak * (self.final_fraction + (1.0 - self.final_fraction) * shape)
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
            "final_fraction": self.final_fraction,
        }


def adam_over_run(
    learning_rate: float,
    epochs: int,
    steps_per_epoch: int,
    decay: str = "cosine",
    final_fraction: float = 0.05,
) -> keras.optimizers.Adam:
    """Adam whose rate decays to `final_fraction` over `epochs` (no warm-up); a constant rate
    when `decay` is "constant" or the run's length is unknown (`epochs` 0). Used by the
    head-pose regressor and the patch study's victim, whose evaluated model is the last one."""
    require(decay in DECAYS, f"learning-rate decay {decay!r} is not one of {DECAYS}")
    if decay == "constant" or not epochs:
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.Adam(
        WarmupDecay(
            learning_rate, epochs * steps_per_epoch, decay=decay, final_fraction=final_fraction
        )
    )
