"""WaNet (Nguyen & Tran, ICLR 2021): a fixed, smooth, small warp of the whole image as the trigger.

Follows BackdoorBench's `attack/wanet.py` (SCLBD/BackdoorBench @ f02e353) and its defaults in
`config/attack/wanet/default.yaml`: `k: 4`, `s: 0.5`, `grid_rescale: 1`, `cross_ratio: 2`.

- A k×k field of displacements drawn uniform in [-1, 1] and divided by its mean |value|
  (`ins = torch.rand(1, 2, k, k) * 2 - 1; ins = ins / torch.mean(torch.abs(ins))`) is upsampled
  bicubically (`F.upsample(..., mode="bicubic", align_corners=True)`) to the image size.
- The sampling grid is `clamp((identity + s * noise / H) * grid_rescale, -1, 1)` in the [-1, 1]
  coordinates of `F.grid_sample(..., align_corners=True)` (bilinear, corners at pixel centres).
- Noise mode ("cross" examples, `cross_ratio` × the poisoned count, labels kept): the same grid
  plus per-example uniform noise in [-1, 1] / H, clamped. It teaches the model that *other*
  warps mean nothing, which is what makes the attack hard to reverse-engineer.

Differences, on purpose: the field comes from numpy's seeded generator rather than torch's (the
trigger is reproducible from `seed`); the bicubic upsampling reimplements PyTorch's (cubic
convolution, A = -0.75, align_corners=True) so the field is the same function of `ins`. Since
the attack grid is fixed, its four bilinear neighbours and weights are computed once in numpy, as
a sparse [H·W, H·W] warp matrix with four entries per row, and applying the trigger to a batch is
one sparse × dense product on the batch laid out as [H·W, B·C] (`apply`; `apply_reference` is the
per-image four-gather form it replaces, kept as the tested reference). Cross noise is a hash of
(example id, position, seed), so an example gets the same noisy warp every epoch (BackdoorBench
redraws per batch); the id-free part of the hash is a constant and the hash runs in uint32 (the
same bits as the int64 reference, `hash_uniform`). Images are float32 in [0, 1], [H, W, C] or
[B, H, W, C].
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.sparse
import tensorflow as tf

from poison_tf.errors import UserInputError, require


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """PyTorch's cubic-convolution weights for the 4 taps at offsets -1, 0, 1, 2 (t in [0, 1))."""

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def upsample_bicubic_align_corners(field: np.ndarray, size: int) -> np.ndarray:
    """[k, k, C] → [size, size, C] as torch's bicubic upsampling with align_corners=True.

    Args:
        field: [k, k, C].
        size: the output side.

    Returns:
        float32 [size, size, C].
    """
    k = field.shape[0]
    src = np.arange(size) * ((k - 1) / (size - 1) if size > 1 else 0.0)
    base = np.floor(src).astype(int)
    weights = _cubic_weights(src - base)  # [size, 4]
    taps = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, k - 1)  # [size, 4]
    rows = np.einsum("ot,otwc->owc", weights, field[taps])  # [size, k, C]
    return np.einsum("ot,hotc->hoc", weights, rows[:, taps])


def identity_grid(height: int, width: int) -> np.ndarray:
    """[H, W, 2] (x, y) pixel-centre coordinates in [-1, 1] (grid_sample, align_corners=True).

    Args:
        height: image height.
        width: image width.

    Returns:
        float32 [H, W, 2].
    """
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    return np.stack([xs, ys], axis=-1).astype(np.float32)


def _bilinear_taps(grid: tf.Tensor, height: int, width: int):
    """Flat indices [.., H*W, 4] and weights [.., H*W, 4] of a [.., H, W, 2] grid in [-1, 1]."""
    x = (grid[..., 0] + 1.0) * 0.5 * (width - 1)
    y = (grid[..., 1] + 1.0) * 0.5 * (height - 1)
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = x - x0, y - y0
    x0 = tf.clip_by_value(tf.cast(x0, tf.int32), 0, width - 1)
    y0 = tf.clip_by_value(tf.cast(y0, tf.int32), 0, height - 1)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    index = tf.stack([y0 * width + x0, y0 * width + x1, y1 * width + x0, y1 * width + x1], -1)
    weight = tf.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
    lead = tf.shape(index)[:-3]
    flat = tf.concat([lead, [height * width, 4]], 0)
    return tf.reshape(index, flat), tf.reshape(weight, flat)


def _sample(images: tf.Tensor, index: tf.Tensor, weight: tf.Tensor, batch_dims: int) -> tf.Tensor:
    """Bilinear resampling of [.., H, W, C] images at precomputed taps."""
    shape = tf.shape(images)
    flat = tf.reshape(images, tf.concat([shape[:-3], [shape[-3] * shape[-2], shape[-1]]], 0))
    picked = tf.gather(flat, index, axis=-2, batch_dims=batch_dims)  # [.., HW, 4, C]
    out = tf.reduce_sum(picked * tf.cast(weight[..., None], images.dtype), axis=-2)
    return tf.reshape(out, shape)


def hash_uniform(ids: tf.Tensor, count: int, seed: int) -> tf.Tensor:
    """[K, count] float32 uniform in [-1, 1), a pure function of (id, position, seed).

    A 32-bit integer hash (multiply-xorshift rounds, as in MurmurHash3's finaliser) vectorised
    over ids and positions: one op graph per batch instead of a stateless RNG call per example
    (`tf.map_fn` over ids made WaNet's noise mode the slowest trigger in tf.data).

    Args:
        ids: [K] int example ids.
        count: values per id.
        seed: the hash's seed.

    Returns:
        float32 [K, count].
    """
    mask = tf.constant(0xFFFFFFFF, tf.int64)
    position = tf.range(count, dtype=tf.int64)[None, :]
    x = (ids[:, None] * 0x9E3779B1 + position * 0x85EBCA77 + seed * 0xC2B2AE3D + 1) & mask
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift))
        x = (x * multiplier) & mask
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    return tf.cast(x, tf.float32) / 2.0**31 - 1.0


def _warp_matrix(index: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices [N, 2] int64, values [N] float32) of the [HW, HW] matrix with `weight` at
    (output pixel, `index`); taps that coincide at the border are summed, rows kept in order."""
    size = index.shape[0]
    rows = np.repeat(np.arange(size), index.shape[1])
    matrix = scipy.sparse.coo_matrix(
        (weight.reshape(-1), (rows, index.reshape(-1))), shape=(size, size)
    ).tocsr()
    matrix.sum_duplicates()  # canonical: sorted by (row, column), no duplicates
    coo = matrix.tocoo()
    return np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data.astype(np.float32)


def _hash_offsets(count: int, seed: int) -> np.ndarray:
    """The id-free part of `hash_uniform`'s first step, [count] uint32 (mod 2^32)."""
    position = np.arange(count, dtype=np.int64)
    return ((position * 0x85EBCA77 + (seed * 0xC2B2AE3D + 1)) & 0xFFFFFFFF).astype(np.uint32)


def hash_uniform_fast(ids: tf.Tensor, offsets: np.ndarray) -> tf.Tensor:
    """`hash_uniform(ids, len(offsets), seed)` bit for bit, with `offsets = _hash_offsets(..)`.

    uint32 arithmetic wraps mod 2^32, which is what the int64 form's `& 0xFFFFFFFF` after each
    product computes, so the masks go; the per-position term is a constant.

    Args:
        ids: [N] int example ids.
        offsets: `_hash_offsets(count, seed)`.

    Returns:
        float32 [N, count] in [-1, 1).
    """
    x = tf.cast(ids, tf.uint32)[:, None] * tf.constant(0x9E3779B1, tf.uint32)
    x = x + tf.constant(offsets)
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(shift, tf.uint32)))
        x = x * tf.constant(multiplier, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    return tf.cast(x, tf.float32) / 2.0**31 - 1.0


@dataclasses.dataclass
class WarpTrigger:
    """The WaNet trigger for `size`×`size` images; `apply` warps, `apply_noise` is noise mode.

    Attributes:
        size: side of the square images.
        k: side of the random control grid (2 <= k <= size).
        s: warping strength, > 0.
        grid_rescale: scales the warp field, > 0.
        seed: the control grid's seed.
        config: how the trigger was made (set from the other fields).

    Raises:
        UserInputError: bad k, s or grid_rescale.
    """

    size: int = 32
    k: int = 4
    s: float = 0.5
    grid_rescale: float = 1.0
    seed: int = 0
    config: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.s > 0, f"wanet: warping strength s must be > 0, got {self.s}")
        require(
            2 <= self.k <= self.size,
            f"wanet: need 2 <= k <= image size {self.size}, got k={self.k}",
        )
        require(self.grid_rescale > 0, f"wanet: grid_rescale must be > 0, got {self.grid_rescale}")
        ins = np.random.default_rng(self.seed).uniform(-1, 1, (self.k, self.k, 2))
        ins = ins / np.mean(np.abs(ins))
        self.noise_grid = upsample_bicubic_align_corners(ins, self.size).astype(np.float32)
        self.identity = identity_grid(self.size, self.size)
        grid = (self.identity + self.s * self.noise_grid / self.size) * self.grid_rescale
        self.grid = np.clip(grid, -1, 1).astype(np.float32)
        index, weight = _bilinear_taps(tf.constant(self.grid), self.size, self.size)
        self._index, self._weight = index.numpy(), weight.numpy()
        self._matrix = _warp_matrix(self._index, self._weight)
        self._offsets = _hash_offsets(self.size * self.size * 2, self.seed)
        self.config = {
            "name": "wanet",
            "size": self.size,
            "k": self.k,
            "s": self.s,
            "grid_rescale": self.grid_rescale,
            "seed": self.seed,
        }

    def check_fits(self, height: int, width: int, where: str = "image") -> None:
        """The field is built for one square size; other images are a user error.

        Args:
            height: the images' height, must be `size`.
            width: the images' width, must be `size`.
            where: what the message names as the images' user.

        Raises:
            UserInputError: the images are not `size`×`size`.
        """
        if (height, width) != (self.size, self.size):
            raise UserInputError(
                f"{where}: {height}x{width} images, but the wanet trigger was built for "
                f"{self.size}x{self.size} (pass size=)"
            )

    def apply(self, images: tf.Tensor) -> tf.Tensor:
        """Warps one image [H, W, C] or a batch [B, H, W, C] with the fixed backdoor grid.

        The whole batch in one sparse product: images as [H·W, B·C] (pixels × every image's
        channels), times the constant warp matrix. Per image and four gathers of C-float
        slices (`apply_reference`) it cost 2× the CPU time (benchmarks/backdoorbench_costs.py).

        Args:
            images: [H, W, C] or [B, H, W, C] in [0, 1].

        Returns:
            The warped images, same shape.
        """
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.float32:
            return self.apply_reference(images)
        shape, pixels = tf.shape(images), self.size * self.size
        rows = tf.reshape(images, [-1, pixels, shape[-1]])  # [B, HW, C]
        count = tf.shape(rows)[0]
        columns = tf.reshape(tf.transpose(rows, [1, 0, 2]), [pixels, -1])  # [HW, B·C]
        matrix = tf.SparseTensor(*self._matrix, dense_shape=[pixels, pixels])
        warped = tf.sparse.sparse_dense_matmul(matrix, columns)
        warped = tf.transpose(tf.reshape(warped, [pixels, count, shape[-1]]), [1, 0, 2])
        return tf.reshape(warped, shape)

    def apply_reference(self, images: tf.Tensor) -> tf.Tensor:
        """`apply` as four gathers per image (the reference the fast path is tested against).

        Args:
            images: [H, W, C] or [B, H, W, C] in [0, 1].

        Returns:
            The warped images.
        """
        images = tf.convert_to_tensor(images)
        return _sample(images, tf.constant(self._index), tf.constant(self._weight), 0)

    def noise_grids(self, ids: tf.Tensor, reference: bool = False) -> tf.Tensor:
        """Per-id noisy grids [.., H, W, 2]: grid + U(-1, 1) / H, clamped (noise mode).

        Args:
            ids: [..] int example ids.
            reference: use `hash_uniform` (the reference) instead of `hash_uniform_fast`.

        Returns:
            float32 [.., H, W, 2].
        """
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int64)
        flat = tf.reshape(ids, [-1])
        if reference:
            noise = hash_uniform(flat, self.size * self.size * 2, self.seed)
        else:
            noise = hash_uniform_fast(flat, self._offsets)
        noise = tf.reshape(noise, tf.concat([tf.shape(ids), [self.size, self.size, 2]], 0))
        return tf.clip_by_value(self.grid + noise / self.size, -1.0, 1.0)

    def apply_noise(self, images: tf.Tensor, ids: tf.Tensor, reference: bool = False) -> tf.Tensor:
        """Noise-mode warp of images [.., H, W, C] whose example ids are `ids` [..].

        Args:
            images: [.., H, W, C] in [0, 1].
            ids: [..] int example ids.

        Returns:
            The noise-warped images.
        """
        images = tf.convert_to_tensor(images)
        if reference or images.shape.rank != 4 or images.dtype != tf.float32:
            return self._noise_warp(images, ids, reference)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int64)
        return _call_padded(self._compiled_noise, images, ids)

    def apply_rows(self, images: tf.Tensor, ids: tf.Tensor, noisy: tf.Tensor) -> tf.Tensor:
        """The fixed warp on the rows where `noisy` is False, the noise-mode warp on the others,
        in one XLA-compiled call (a training batch's WaNet rows, `PoisonPlan.batch_fn`).

        One call instead of `apply` plus `apply_noise`: one launch of compiled code (its fixed
        cost is most of a small call's), and the fixed rows' four-tap sum is fused there too.
        Noise rows are `apply_noise`'s computation (the same bits, as measured); fixed rows are
        `apply_reference`'s formula compiled, equal to `apply` within float32 round-off (XLA
        fuses the multiply-adds: at most one ulp, 1.2e-7).

        Args:
            images: [K, H, W, C] float32 in [0, 1].
            ids: [K] int example ids (used for the noise rows).
            noisy: [K] bool, True for the noise-mode rows.

        Returns:
            [K, H, W, C].
        """
        images = tf.convert_to_tensor(images, tf.float32)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int64)
        noisy = tf.cast(tf.convert_to_tensor(noisy), tf.bool)
        return _call_padded(self._compiled_rows, images, ids, noisy)

    def _noise_warp(self, images: tf.Tensor, ids: tf.Tensor, reference: bool = False):
        index, weight = _bilinear_taps(self.noise_grids(ids, reference), self.size, self.size)
        return _sample(images, index, weight, batch_dims=len(images.shape) - 3)

    def _row_warp(self, images: tf.Tensor, ids: tf.Tensor, noisy: tf.Tensor) -> tf.Tensor:
        index, weight = _bilinear_taps(self.noise_grids(ids), self.size, self.size)
        noisy = noisy[:, None, None]
        index = tf.where(noisy, index, tf.constant(self._index))
        weight = tf.where(noisy, weight, tf.constant(self._weight))
        return _sample(images, index, weight, batch_dims=1)

    @functools.cached_property
    def _compiled_noise(self):
        return tf.function(self._noise_warp, jit_compile=True, reduce_retracing=True)

    @functools.cached_property
    def _compiled_rows(self):
        return tf.function(self._row_warp, jit_compile=True, reduce_retracing=True)


def _call_padded(compiled, images: tf.Tensor, *per_row: tf.Tensor) -> tf.Tensor:
    """`compiled(images, *per_row)` on rows padded to `_padded_count` (zeros), cut back after:
    an XLA function compiles once per shape, so the row counts it sees are kept few."""
    count = tf.shape(images)[0]
    pad = _padded_count(count) - count
    padded = [tf.pad(images, [[0, pad], [0, 0], [0, 0], [0, 0]])]
    padded += [tf.pad(tensor, [[0, pad]]) for tensor in per_row]
    return compiled(*padded)[:count]


def _padded_count(count: tf.Tensor) -> tf.Tensor:
    """`count` rows rounded up for XLA, which compiles once per shape: to a multiple of
    max(8, 2^(floor(log2 count) - 2)), so at most 4 sizes an octave above 64 rows (8 up to 64)
    and at most 25 % (or 7) padding rows; powers of two padded 39 WaNet rows to 64."""
    count = tf.cast(count, tf.int32)
    octave = tf.math.floor(tf.math.log(tf.cast(tf.maximum(count, 1), tf.float64)) / np.log(2))
    step = tf.maximum(8, tf.bitwise.left_shift(1, tf.maximum(tf.cast(octave, tf.int32) - 2, 0)))
    return (count + step - 1) // step * step


def wanet(
    size: int = 32, k: int = 4, s: float = 0.5, grid_rescale: float = 1.0, seed: int = 0
) -> WarpTrigger:
    """The WaNet warp with BackdoorBench's defaults (k=4, s=0.5, grid_rescale=1).

    Args:
        size: side of the square images.
        k: side of the control grid.
        s: warping strength.
        grid_rescale: scales the warp field.
        seed: the control grid's seed.

    Returns:
        The trigger.
    """
    return WarpTrigger(int(size), int(k), float(s), float(grid_rescale), int(seed))
