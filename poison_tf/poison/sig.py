"""SIG (Barni, Kallas & Tondi, ICIP 2019): a horizontal sinusoid added to the whole image.

The clean-label attack of BackdoorBench: only images already of the target class are stamped
and no label changes, so a label audit finds nothing. Follows `utils/bd_img_transform/sig.py`
(SCLBD/BackdoorBench @ f02e353): `pattern[i, j] = delta * sin(2 * pi * j * f / m)` with j the
column and m the image width, added to the uint8 image and clipped to [0, 255]; defaults
`sig_delta: 40`, `sig_f: 6` (`config/attack/sig/default.yaml`). Here images are float in
[0, 1], so the amplitude is delta / 255. The pattern is a fixed numpy row built once per width.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from poison_tf.errors import UserInputError, require


def sinusoid(width: int, delta: float, frequency: float) -> np.ndarray:
    """[width] row: (delta / 255) · sin(2π · j · f / width), the same on every row and channel.

    Args:
        width: image width.
        delta: amplitude on the 0-255 scale.
        frequency: periods per row.

    Returns:
        float32 [width].
    """
    columns = np.arange(width, dtype=np.float64)
    return (delta / 255.0 * np.sin(2 * np.pi * columns * frequency / width)).astype(np.float32)


@dataclasses.dataclass
class SignalTrigger:
    """Adds the SIG sinusoid (amplitude `delta` on the 0-255 scale, `frequency` periods per row).

    Attributes:
        delta: amplitude on the 0-255 scale, in (0, 255].
        frequency: periods per row, > 0.
        config: how the trigger was made (set from the other fields).

    Raises:
        UserInputError: a bad delta or frequency.
    """

    delta: float = 40.0
    frequency: float = 6.0
    config: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.frequency > 0, f"sig: frequency f must be > 0, got {self.frequency}")
        require(0 < self.delta <= 255, f"sig: delta must be in (0, 255], got {self.delta}")
        self.config = {"name": "sig", "delta": self.delta, "frequency": self.frequency}

    def check_fits(self, height: int, width: int, where: str = "image") -> None:
        """Any size works: the sinusoid spans the image width.

        Args:
            height: image height (unused).
            width: image width (unused).
            where: names the caller (unused).
        """

    def apply(self, images: tf.Tensor) -> tf.Tensor:
        """Stamps one image [H, W, C] or a batch [B, H, W, C]; clips to [0, 1] as BackdoorBench.

        Args:
            images: [H, W, C] or [B, H, W, C] in [0, 1], of static width.

        Returns:
            The stamped images.

        Raises:
            UserInputError: the image width is not static.
        """
        images = tf.convert_to_tensor(images)
        width = images.shape[-2]
        if width is None:
            raise UserInputError("sig: the image width must be known to draw the sinusoid")
        row = tf.constant(sinusoid(int(width), self.delta, self.frequency)[:, None], images.dtype)
        return tf.clip_by_value(images + row, 0.0, 1.0)


def sig(delta: float = 40.0, frequency: float = 6.0) -> SignalTrigger:
    """The SIG trigger with BackdoorBench's defaults (delta 40/255, f 6).

    Args:
        delta: amplitude on the 0-255 scale.
        frequency: periods per row.

    Returns:
        The trigger.
    """
    return SignalTrigger(float(delta), float(frequency))
