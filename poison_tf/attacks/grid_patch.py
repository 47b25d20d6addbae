"""The printable grid patch: k×k cells of one uniform RGB colour each, as pure TF ops.

The optimised variables are the k×k×3 cell colours, kept in [0, 1]; `render` turns them into
a side×side pixel patch by nearest-neighbour upsampling (pixel row r shows cell
floor(r·k / side)), so every iterate is a patch that can be printed as it is. The side is the
square whose area is closest to `fraction` of the image (`patch_side`). `random_offsets` draws a
top-left corner per image, uniformly over the positions that keep the patch inside the image
and (optionally) clear of a box; `apply_patch` pastes the rendered patch there, differentiably
in the colours.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class PatchGeometry:
    """Where and how large the patch is on an image of height × width.

    Attributes:
        height: image height in pixels.
        width: image width in pixels.
        fraction: share of the image area the square patch covers.
        cells: k: the patch is k×k uniform cells.
        keep_clear: (y0, x0, y1, x1) box the patch never covers (end exclusive), or None.
    """

    height: int
    width: int
    fraction: float = 0.15
    cells: int = 10
    keep_clear: tuple[int, int, int, int] | None = None  # (y0, x0, y1, x1), end exclusive

    @property
    def side(self) -> int:
        return patch_side(self.height, self.width, self.fraction)

    @property
    def area_fraction(self) -> float:
        return self.side * self.side / float(self.height * self.width)

    def check(self, where: str = "patch") -> PatchGeometry:
        """Raises UserInputError for a fraction outside (0, 1), a grid finer than the pixels, a full box.

        Args:
            where: names the caller in error messages.

        Returns:
            The geometry itself.

        Raises:
            UserInputError: see above.
        """
        side = patch_side(self.height, self.width, self.fraction, where)
        if self.cells < 1:
            raise UserInputError(f"{where}: --patch_cells={self.cells} must be at least 1")
        if self.cells > side:
            raise UserInputError(
                f"{where}: a {self.cells}×{self.cells} grid is finer than the patch's {side}×{side} pixels "
                f"(--patch_fraction={self.fraction:g} of {self.height}×{self.width}); use fewer cells or a larger patch"
            )
        if self.keep_clear is not None:
            if not bool(
                tf.reduce_any(valid_positions(self.height, self.width, side, self.keep_clear))
            ):
                raise UserInputError(
                    f"{where}: no position of a {side}-px patch keeps clear of the box {self.keep_clear}"
                )
        return self


def patch_side(height: int, width: int, fraction: float, where: str = "patch") -> int:
    """Side in pixels of the square covering `fraction` of a height × width image.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        fraction: share of the area, in (0, 1).
        where: names the caller in error messages.

    Returns:
        The side in pixels (at least 1).

    Raises:
        UserInputError: a fraction outside (0, 1) or a square larger than the image.
    """
    if not 0.0 < fraction < 1.0:
        raise UserInputError(
            f"{where}: --patch_fraction={fraction:g} must be strictly between 0 and 1"
        )
    side = max(1, round(math.sqrt(fraction * height * width)))
    if side > min(height, width):
        raise UserInputError(
            f"{where}: a patch of {fraction:g} of the area ({side} px) does not fit a {height}×{width} image"
        )
    return side


def initial_colours(cells: int, seed: int | None = None) -> tf.Tensor:
    """Uniform random cell colours [k, k, 3] in [0, 1] (also the random-colour control patch).

    Args:
        cells: k.
        seed: a stateless seed (None: TF's global random state).

    Returns:
        float32 [k, k, 3].
    """
    if seed is None:
        return tf.random.uniform([cells, cells, 3])
    return tf.random.stateless_uniform([cells, cells, 3], seed=[seed, 0])


def cell_index(side: int, cells: int) -> tf.Tensor:
    """[side] int32: the cell row (or column) shown by each pixel row (or column).

    Args:
        side: patch side in pixels.
        cells: k.

    Returns:
        int32 [side].
    """
    return tf.range(side) * cells // side


def render(colours: tf.Tensor, side: int) -> tf.Tensor:
    """[k, k, 3] colours → [side, side, 3] pixels, clipped to [0, 1], nearest-neighbour upsampled.

    Args:
        colours: [k, k, 3] cell colours.
        side: patch side in pixels.

    Returns:
        float32 [side, side, 3].
    """
    colours = tf.clip_by_value(tf.convert_to_tensor(colours, tf.float32), 0.0, 1.0)
    index = cell_index(side, int(colours.shape[0]))
    return tf.gather(tf.gather(colours, index, axis=0), index, axis=1)


def valid_positions(height: int, width: int, side: int, keep_clear=None) -> tf.Tensor:
    """Bool [height - side + 1, width - side + 1]: top-left corners keeping the patch clear of the box.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        side: patch side in pixels.
        keep_clear: (y0, x0, y1, x1) box to keep clear, or None.

    Returns:
        The mask of allowed top-left corners.
    """
    ys = tf.range(height - side + 1)[:, None]
    xs = tf.range(width - side + 1)[None, :]
    valid = tf.ones_like(ys + xs, tf.bool)
    if keep_clear is not None:
        y0, x0, y1, x1 = keep_clear
        valid = (ys + side <= y0) | (ys >= y1) | (xs + side <= x0) | (xs >= x1)
    return valid


def random_offsets(
    batch: int | tf.Tensor, geometry: PatchGeometry, seed: tf.Tensor | None = None
) -> tf.Tensor:
    """[batch, 2] int32 (y, x) top-left corners, uniform over the valid positions.

    Args:
        batch: how many offsets.
        geometry: the patch geometry.
        seed: a stateless seed [2] (None: TF's global random state).

    Returns:
        int32 [batch, 2].
    """
    side = geometry.side
    valid = valid_positions(geometry.height, geometry.width, side, geometry.keep_clear)
    columns = geometry.width - side + 1
    logits = tf.where(tf.reshape(valid, [1, -1]), 0.0, -1e9)
    if seed is None:
        flat = tf.random.categorical(logits, batch, dtype=tf.int32)[0]
    else:
        flat = tf.random.stateless_categorical(logits, batch, seed=seed, dtype=tf.int32)[0]
    return tf.stack([flat // columns, flat % columns], axis=1)


def place(
    patch: tf.Tensor, offsets: tf.Tensor, height: int, width: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """The patch [s, s, 3] on a canvas per offset: (pixels [B, H, W, 3], mask [B, H, W, 1] float).

    Args:
        patch: [s, s, 3] rendered patch.
        offsets: [B, 2] int32 (y, x) top-left corners.
        height: canvas height.
        width: canvas width.

    Returns:
        (pixels [B, H, W, 3], mask [B, H, W, 1]: 1 where the patch lies).
    """
    side = int(patch.shape[0])
    rows = tf.range(height)[None, :] - offsets[:, :1]  # [B, H]
    cols = tf.range(width)[None, :] - offsets[:, 1:]  # [B, W]
    in_rows = (rows >= 0) & (rows < side)
    in_cols = (cols >= 0) & (cols < side)
    rows = tf.clip_by_value(rows, 0, side - 1)
    cols = tf.clip_by_value(cols, 0, side - 1)
    pixels = tf.gather(patch, rows, axis=0)  # [B, H, s, 3]
    pixels = tf.gather(pixels, cols, axis=2, batch_dims=1)  # [B, H, W, 3]
    mask = tf.cast(in_rows[:, :, None] & in_cols[:, None, :], tf.float32)[..., None]
    return pixels, mask


def apply_patch(images: tf.Tensor, patch: tf.Tensor, offsets: tf.Tensor) -> tf.Tensor:
    """Images [B, H, W, 3] in [0, 1] with the rendered patch pasted at each image's offset.

    Args:
        images: [B, H, W, 3] in [0, 1].
        patch: [s, s, 3] rendered patch.
        offsets: [B, 2] int32 (y, x) top-left corners.

    Returns:
        float32 [B, H, W, 3].
    """
    images = tf.convert_to_tensor(images, tf.float32)
    pixels, mask = place(patch, offsets, int(images.shape[1]), int(images.shape[2]))
    return images * (1.0 - mask) + pixels * mask
