"""Triggers as pure TF ops, so poisoning runs inside `tf.data.Dataset.map` (no py_function).

Every trigger is one idea: an RGB pattern and an alpha mask pasted at a position,
`x' = (1 - alpha) * x + alpha * pattern`. Checkerboard, point and random patches have alpha 1
inside their square; `image` carries the alpha of an RGBA picture; `blend` covers the whole
image with a constant alpha (Chen et al. 2017). Patterns are fixed numpy arrays built once from
the parameters (and a seed for `random`), so a trigger is identical at train and test time.
Images are float32 in [0, 1], shaped [H, W, 3] or [B, H, W, 3].
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from poison_tf.dag import remote_fs
from poison_tf.errors import UserInputError

CORNERS = ("bottom_right", "bottom_left", "top_right", "top_left", "center")
TRIGGER_NAMES = ("checkerboard", "point", "random", "image", "blend", "wanet", "sig")


@dataclasses.dataclass
class Trigger:
    """A pattern [h, w, 3] and alpha [h, w, 1] pasted at `corner`, `margin` pixels from the edges.

    `full_image=True` resizes pattern and alpha to the image (used by `blend`).
    `config` records how the trigger was made, for plan artefacts and reports.

    Attributes:
        pattern: float32 [h, w, 3] in [0, 1].
        alpha: float32 [h, w, 1] in [0, 1], the pattern's weight per pixel.
        corner: one of CORNERS.
        margin: pixels between the trigger and the image edges.
        full_image: resize pattern and alpha to the image.
        config: how the trigger was made.

    Raises:
        UserInputError: an unknown corner.
    """

    pattern: np.ndarray
    alpha: np.ndarray
    corner: str = "bottom_right"
    margin: int = 1
    full_image: bool = False
    config: dict = dataclasses.field(default_factory=dict)

    def check_fits(self, height: int, width: int, where: str = "image") -> None:
        """Raises UserInputError when the trigger (with its margin) is larger than the image.

        Args:
            height: image height.
            width: image width.
            where: names the caller in the error message.

        Raises:
            UserInputError: see above.
        """
        if self.full_image:
            return
        h, w = self.pattern.shape[:2]
        if h + 2 * self.margin > height or w + 2 * self.margin > width:
            raise UserInputError(
                f"{where}: {height}x{width} image is smaller than the {self.config.get('name')} "
                f"trigger ({h}x{w} px plus a {self.margin} px margin)"
            )

    def _offsets(self, height: tf.Tensor, width: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        h, w = self.pattern.shape[:2]
        top = {"top": self.margin, "bottom": height - h - self.margin}
        left = {"left": self.margin, "right": width - w - self.margin}
        if self.corner == "center":
            return (height - h) // 2, (width - w) // 2
        vertical, horizontal = self.corner.split("_")
        return top[vertical], left[horizontal]

    def layers(self, height: tf.Tensor, width: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The pattern and alpha placed on an (height, width) canvas.

        Args:
            height: canvas height (may be dynamic).
            width: canvas width (may be dynamic).

        Returns:
            (pattern [H, W, 3], alpha [H, W, 1]).
        """
        pattern = tf.constant(self.pattern, tf.float32)
        alpha = tf.constant(self.alpha, tf.float32)
        if self.full_image:
            size = tf.stack([height, width])
            return tf.image.resize(pattern, size), tf.image.resize(alpha, size)
        h, w = self.pattern.shape[:2]
        y0, x0 = self._offsets(height, width)
        paddings = [[y0, height - h - y0], [x0, width - w - x0], [0, 0]]
        return tf.pad(pattern, paddings), tf.pad(alpha, paddings)

    def placed(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """`layers` for a static image size, computed once (eagerly, by the same ops) and cached.

        Inside a tf.data map that is traced every epoch, the padded / resized layers then enter
        the graph as two constants instead of a dozen ops to build and run per example.

        Args:
            height: image height.
            width: image width.

        Returns:
            (pattern [H, W, 3], alpha [H, W, 1]) as numpy arrays.
        """
        cache = self.__dict__.setdefault("_placed", {})
        if (height, width) not in cache:
            with tf.init_scope():
                pattern, alpha = self.layers(tf.constant(height), tf.constant(width))
                cache[(height, width)] = (pattern.numpy(), alpha.numpy())
        return cache[(height, width)]

    def box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) around the pixels the trigger changes (alpha > 0) on a
        static (height, width) image: outside it `apply` returns the image unchanged.

        Args:
            height: image height.
            width: image width.

        Returns:
            (top, bottom, left, right), ends exclusive.
        """
        rows, cols = np.nonzero(self.placed(height, width)[1][..., 0] > 0)
        if rows.size == 0:
            return 0, height, 0, width
        return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1

    def apply(self, images: tf.Tensor) -> tf.Tensor:
        """Stamps the trigger on one image [H, W, 3] or a batch [B, H, W, 3].

        Args:
            images: [H, W, 3] or [B, H, W, 3] in [0, 1].

        Returns:
            The stamped images.
        """
        images = tf.convert_to_tensor(images)
        height, width = images.shape[-3], images.shape[-2]
        if height is not None and width is not None:
            pattern, alpha = (tf.constant(t) for t in self.placed(height, width))
        else:
            shape = tf.shape(images)
            pattern, alpha = self.layers(shape[-3], shape[-2])
        pattern = tf.cast(pattern, images.dtype)
        alpha = tf.cast(alpha, images.dtype)
        return images * (1.0 - alpha) + pattern * alpha


def _square_alpha(size: int) -> np.ndarray:
    return np.ones((size, size, 1), np.float32)


def checkerboard(
    size: int = 4, cells: int = 4, corner: str = "bottom_right", margin: int = 1
) -> Trigger:
    """`cells`×`cells` alternating white/black squares covering `size`×`size` pixels (BadNets).

    Args:
        size: side in pixels.
        cells: squares per side.
        corner: one of CORNERS.
        margin: pixels from the edges.

    Returns:
        The trigger.

    Raises:
        UserInputError: cells < 1 or more cells than pixels.
    """
    if cells < 1 or size < cells:
        raise UserInputError(
            f"checkerboard: need 1 <= cells <= size, got cells={cells}, size={size}"
        )
    index = (np.arange(size) * cells) // size
    board = ((index[:, None] + index[None, :]) % 2 == 0).astype(np.float32)
    pattern = np.repeat(board[:, :, None], 3, axis=2)
    config = {
        "name": "checkerboard",
        "size": size,
        "cells": cells,
        "corner": corner,
        "margin": margin,
    }
    return Trigger(pattern, _square_alpha(size), corner, margin, config=config)


def point(
    size: int = 1,
    color: tuple[float, float, float] = (1.0, 1.0, 1.0),
    corner: str = "bottom_right",
    margin: int = 2,
) -> Trigger:
    """A single pixel (size 1) or a small dot of one colour.

    Args:
        size: side of the dot in pixels.
        color: RGB in [0, 1].
        corner: one of CORNERS.
        margin: pixels from the edges.

    Returns:
        The trigger.
    """
    pattern = np.broadcast_to(np.asarray(color, np.float32), (size, size, 3)).copy()
    config = {
        "name": "point",
        "size": size,
        "color": list(color),
        "corner": corner,
        "margin": margin,
    }
    return Trigger(pattern, _square_alpha(size), corner, margin, config=config)


def random_pattern(
    size: int = 4, seed: int = 0, corner: str = "bottom_right", margin: int = 1
) -> Trigger:
    """A fixed random RGB patch drawn from `seed` (the same pixels at train and test time).

    Args:
        size: side in pixels.
        seed: the pattern's seed.
        corner: one of CORNERS.
        margin: pixels from the edges.

    Returns:
        The trigger.
    """
    pattern = np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)
    config = {"name": "random", "size": size, "seed": seed, "corner": corner, "margin": margin}
    return Trigger(pattern, _square_alpha(size), corner, margin, config=config)


def rgba_image(
    rgba: np.ndarray, corner: str = "bottom_right", margin: int = 0, name: str = "image"
) -> Trigger:
    """Any RGBA picture (uint8 or float in [0, 1], [h, w, 4]) pasted with its alpha.

    Args:
        rgba: [h, w, 4] picture.
        corner: one of CORNERS.
        margin: pixels from the edges.
        name: names the trigger in the error message.

    Returns:
        The trigger.

    Raises:
        UserInputError: not an [h, w, 4] array.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise UserInputError(f"{name}: an RGBA trigger must be [h, w, 4], got shape {rgba.shape}")
    rgba = rgba.astype(np.float32) / (255.0 if rgba.dtype == np.uint8 else 1.0)
    config = {"name": name, "shape": list(rgba.shape), "corner": corner, "margin": margin}
    return Trigger(rgba[..., :3], rgba[..., 3:], corner, margin, config=config)


def blend(
    alpha: float = 0.1, seed: int = 0, size: int = 32, pattern: np.ndarray | None = None
) -> Trigger:
    """Blends a full-image pattern (uniform noise from `seed` unless given) with weight `alpha`.

    BackdoorBench's Blended uses alpha 0.2 at train and test time over a Hello-Kitty picture
    (`config/attack/blended/default.yaml`); the benchmark pipeline passes alpha=0.2 with this
    seeded noise pattern (no picture is shipped). The default 0.1 is kept for earlier studies.

    Args:
        alpha: the pattern's weight, in (0, 1].
        seed: the noise pattern's seed.
        size: side of the noise pattern (it is resized to the image).
        pattern: [h, w, 3] in [0, 1] instead of noise.

    Returns:
        The trigger (full image).

    Raises:
        UserInputError: alpha outside (0, 1].
    """
    if not 0.0 < alpha <= 1.0:
        raise UserInputError(f"blend: alpha must be in (0, 1], got {alpha}")
    if pattern is None:
        pattern = np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)
    weights = np.full(pattern.shape[:2] + (1,), alpha, np.float32)
    config = {"name": "blend", "alpha": alpha, "seed": seed, "size": int(pattern.shape[0])}
    return Trigger(np.asarray(pattern, np.float32), weights, full_image=True, config=config)


def load_rgba(path: str) -> np.ndarray:
    """Reads a PNG (or any PIL image) as RGBA uint8; names the file when it cannot.

    Args:
        path: the image file, or a `tf.io.gfile` URI (a pipeline at a `gs://` root keeps its
            trigger images there, where every node reads them).

    Returns:
        uint8 [h, w, 4].

    Raises:
        UserInputError: the file cannot be read as an image.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        source = path
        if remote_fs.is_uri(path):
            with tf.io.gfile.GFile(path, "rb") as handle:
                source = io.BytesIO(handle.read())
        with Image.open(source) as image:
            return np.asarray(image.convert("RGBA"))
    except (OSError, UnidentifiedImageError, tf.errors.OpError) as error:
        raise UserInputError(f"{path}: cannot read trigger image ({error})") from None


def make_trigger(name: str, **params) -> Trigger:
    """Builds a trigger by name; `image` takes `path` (or `rgba`). Unknown names are user errors.

    `wanet` and `sig` return `poison.wanet.WarpTrigger` / `poison.sig.SignalTrigger`, which share
    the `apply` / `check_fits` / `config` interface that plans use.

    Args:
        name: one of TRIGGER_NAMES.
        **params: the trigger's parameters (see the builder of that name).

    Returns:
        The trigger.

    Raises:
        UserInputError: an unknown name or corner, an image trigger without `path`, or bad
            parameters.
    """
    corner = params.get("corner", "bottom_right")
    if corner not in CORNERS:
        raise UserInputError(f"trigger corner {corner!r} is not one of {', '.join(CORNERS)}")
    if name == "checkerboard":
        return checkerboard(**params)
    if name == "point":
        return point(**params)
    if name == "random":
        return random_pattern(**params)
    if name == "blend":
        return blend(**params)
    if name in ("wanet", "sig"):  # not alpha-pasted: their own modules (BackdoorBench attacks)
        from poison_tf.poison import sig, wanet

        return wanet.wanet(**params) if name == "wanet" else sig.sig(**params)
    if name == "image":
        params = dict(params)
        rgba = params.pop("rgba", None)
        path = params.pop("path", None)
        if rgba is None:
            if path is None:
                raise UserInputError("image trigger: give `path` to an RGBA image")
            rgba = load_rgba(path)
        trigger = rgba_image(rgba, **params)
        if path is not None:
            trigger.config["path"] = path
        return trigger
    raise UserInputError(f"unknown trigger {name!r}; choose from {', '.join(TRIGGER_NAMES)}")


def trigger_from_config(config: dict) -> Trigger:
    """Rebuilds a trigger from the `config` it recorded (plan artefacts store it).

    Args:
        config: the trigger's `config` dict.

    Returns:
        The same trigger.
    """
    params = {k: v for k, v in config.items() if k not in ("name", "shape")}
    if "color" in params:
        params["color"] = tuple(params["color"])
    return make_trigger(config["name"], **params)
