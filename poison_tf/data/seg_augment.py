"""Training augmentations for instance-segmentation examples, in pure TF ops (no py_function).

Why pure TF: augmentation runs inside `tf.data` on every core (and under any tf.distribute
strategy) and is seeded statelessly by (seed, epoch, example id), so a resumed run sees the
same augmented batches. Ultralytics 8.3 `v8_transforms` without mosaic / mixup, in its order:

1. random affine (`RandomPerspective` with degrees = shear = perspective = 0): scale
   s ~ U(1 - scale, 1 + scale) about the centre, then the centre moves to
   t ~ U(0.5 - translate, 0.5 + translate) * S. The image is warped bilinearly (border 114),
   the overlap map with NEAREST at its own S/4 grid (exact: values are indices). Boxes are
   transformed exactly (scale + translate keep them axis-aligned, and Ultralytics' clamp of the
   transformed polygon points equals clamping the box) and clipped to the image. Instances
   that fail Ultralytics' `box_candidates` (side > 2 px, area kept > 1 % of the scaled area,
   aspect < 100) are dropped from every per-instance tensor and from the map (the remaining
   indices are renumbered so i + 1 still means row i).
2. HSV jitter (`RandomHSV`): gains r ~ U(-1, 1) * (h, s, v) + 1 multiply hue (mod 1),
   saturation and value (clipped).
3. horizontal flip (`RandomFlip`) with probability `flip_lr`: x -> S - x for boxes, columns
   reversed for the image and the map.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

PAD_VALUE = 114.0
PER_INSTANCE = ("classes", "boxes", "instance_ids", "lines")


@dataclasses.dataclass(frozen=True)
class SegAugment:
    """Ultralytics default hyper-parameters (`default.yaml`) for the augmentations used."""

    flip_lr: float = 0.5
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    scale: float = 0.5
    translate: float = 0.1
    min_side: float = 2.0
    min_area_ratio: float = 0.01
    max_aspect: float = 100.0


def _uniform(
    seed: tf.Tensor, salt: int, shape=(), low: float = 0.0, high: float = 1.0
) -> tf.Tensor:
    return tf.random.stateless_uniform(
        shape,
        seed + tf.constant([0, salt], tf.int64) * 7919,
        minval=low,
        maxval=high,
        dtype=tf.float32,
    )


def _warp(
    image: tf.Tensor, scale: tf.Tensor, centre: tf.Tensor, interpolation: str, fill: float
) -> tf.Tensor:
    """Output pixel centre c' = scale (c - size/2) + centre (c = index + 0.5), for [H, W, C]."""
    size = tf.cast(tf.shape(image)[0], tf.float32)
    offset = (0.5 - centre) / scale + size / 2 - 0.5
    transform = tf.stack([1 / scale, 0.0, offset[0], 0.0, 1 / scale, offset[1], 0.0, 0.0])
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None],
        transforms=transform[None],
        output_shape=tf.shape(image)[:2],
        interpolation=interpolation,
        fill_mode="CONSTANT",
        fill_value=fill,
    )
    return warped[0]


def keep_instances(example: dict, keep: tf.Tensor) -> dict:
    """Drops the instances where `keep` is False from every per-instance tensor and the map."""
    out = dict(example)
    for key in PER_INSTANCE:
        if key in example:
            out[key] = tf.boolean_mask(example[key], keep)
    keep_int = tf.cast(keep, tf.int32)
    lookup = tf.concat([[0], tf.cumsum(keep_int) * keep_int], axis=0)
    out["mask"] = tf.cast(
        tf.gather(lookup, tf.cast(example["mask"], tf.int32)), example["mask"].dtype
    )
    return out


def random_affine(example: dict, config: SegAugment, seed: tf.Tensor) -> dict:
    size = tf.cast(tf.shape(example["image"])[0], tf.float32)
    scale = _uniform(seed, 1, (), 1 - config.scale, 1 + config.scale)
    centre = _uniform(seed, 2, (2,), 0.5 - config.translate, 0.5 + config.translate) * size
    image = _warp(example["image"], scale, centre, "BILINEAR", PAD_VALUE)
    mask_stride = size / tf.cast(tf.shape(example["mask"])[0], tf.float32)
    mask = _warp(example["mask"][..., None], scale, centre / mask_stride, "NEAREST", 0.0)[..., 0]
    boxes = example["boxes"]
    shift = tf.tile(centre - scale * size / 2, [2])
    moved = tf.clip_by_value(boxes * scale + shift, 0.0, size)
    old_w, old_h = (boxes[:, 2] - boxes[:, 0]) * scale, (boxes[:, 3] - boxes[:, 1]) * scale
    new_w, new_h = moved[:, 2] - moved[:, 0], moved[:, 3] - moved[:, 1]
    aspect = tf.maximum(new_w / (new_h + 1e-16), new_h / (new_w + 1e-16))
    keep = (
        (new_w > config.min_side)
        & (new_h > config.min_side)
        & (new_w * new_h / (old_w * old_h + 1e-16) > config.min_area_ratio)
        & (aspect < config.max_aspect)
    )
    out = dict(example, image=image, mask=tf.cast(mask, example["mask"].dtype), boxes=moved)
    return keep_instances(out, keep)


def random_hsv(image: tf.Tensor, config: SegAugment, seed: tf.Tensor) -> tf.Tensor:
    """float32 [H, W, 3] in 0..255 → the same with hue/saturation/value gains applied."""
    gains = (
        _uniform(seed, 3, (3,), -1.0, 1.0) * tf.constant([config.hsv_h, config.hsv_s, config.hsv_v])
        + 1
    )
    hsv = tf.image.rgb_to_hsv(tf.clip_by_value(image, 0.0, 255.0) / 255.0)
    hue = tf.math.floormod(hsv[..., 0] * gains[0], 1.0)
    sat = tf.clip_by_value(hsv[..., 1] * gains[1], 0.0, 1.0)
    val = tf.clip_by_value(hsv[..., 2] * gains[2], 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([hue, sat, val], axis=-1)) * 255.0


def flip_left_right(example: dict) -> dict:
    size = tf.cast(tf.shape(example["image"])[1], tf.float32)
    boxes = example["boxes"]
    flipped = tf.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], axis=1)
    return dict(
        example,
        image=tf.reverse(example["image"], [1]),
        mask=tf.reverse(example["mask"], [1]),
        boxes=tf.reshape(flipped, [-1, 4]),
    )


def augment_example(example: dict, config: SegAugment, seed: tf.Tensor) -> dict:
    """Affine, HSV, flip on a parsed example (image float32 0..255); `seed` is int64 [2]."""
    example = dict(example, image=tf.cast(example["image"], tf.float32))
    if config.scale or config.translate:
        example = random_affine(example, config, seed)
    if config.hsv_h or config.hsv_s or config.hsv_v:
        example["image"] = random_hsv(example["image"], config, seed)
    if config.flip_lr > 0:
        do_flip = _uniform(seed, 4) < config.flip_lr
        example = tf.cond(do_flip, lambda: flip_left_right(example), lambda: dict(example))
    return example
