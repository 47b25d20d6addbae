"""A few visually distinct procedural image classes (the embedded default of `adversarial_patch`).

Class c is a texture family drawn on a random background colour: horizontal stripes, vertical
stripes, a filled disc, a checkerboard, diagonal stripes, a ring, ... with a random phase,
period, colours and pixel noise, so that a small CNN learns them in a few epochs and the
patch has something real to fight. Deterministic given the seed; uint8 [N, S, S, 3].
"""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("h_stripes", "v_stripes", "disc", "checker", "diagonal", "ring")


def _pattern(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(size / 8, size / 4)
    phase = rng.uniform(0, period)
    if kind == 0:
        return ((ys + phase) // (period / 2)) % 2 == 0
    if kind == 1:
        return ((xs + phase) // (period / 2)) % 2 == 0
    cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
    radius = np.hypot(ys - cy, xs - cx)
    if kind == 2:
        return radius < rng.uniform(size * 0.2, size * 0.35)
    if kind == 3:
        return (((ys + phase) // period + (xs + phase) // period) % 2) == 0
    if kind == 4:
        return ((ys + xs + phase) // (period / 2)) % 2 == 0
    inner = rng.uniform(size * 0.15, size * 0.25)
    return (radius > inner) & (radius < inner + size * 0.12)


def synthetic_classes(
    count: int, size: int = 32, num_classes: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [count, size, size, 3], labels int64 [count]) with balanced classes."""
    if not 2 <= num_classes <= len(CLASS_NAMES):
        raise ValueError(f"num_classes must be in 2..{len(CLASS_NAMES)}, got {num_classes}")
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % num_classes
    rng.shuffle(labels)
    images = np.empty([count, size, size, 3], np.float32)
    for index, label in enumerate(labels):
        mask = _pattern(int(label), size, rng)[..., None]
        background, foreground = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        while np.abs(background - foreground).sum() < 0.8:
            foreground = rng.uniform(0, 1, 3)
        images[index] = np.where(mask, foreground, background) + rng.normal(
            0, 0.04, [size, size, 3]
        )
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8), labels.astype(np.int64)
