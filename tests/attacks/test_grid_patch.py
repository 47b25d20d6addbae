"""Grid patch rendering, area, clipping and placement (pure TF ops)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.attacks.grid_patch import PatchGeometry, apply_patch, random_offsets, render
from poison_tf.errors import UserInputError


@pytest.mark.parametrize("side,cells", [(20, 10), (23, 10), (12, 3), (7, 7)])
def test_render_is_k_by_k_uniform_cells(side, cells):
    colours = np.random.default_rng(0).uniform(0, 1, [cells, cells, 3]).astype(np.float32)
    pixels = render(colours, side).numpy()
    assert pixels.shape == (side, side, 3)
    index = np.arange(side) * cells // side
    for i in range(cells):
        for j in range(cells):
            block = pixels[index == i][:, index == j]
            assert block.size > 0
            np.testing.assert_array_equal(block, np.broadcast_to(colours[i, j], block.shape))
    # cell sizes differ by at most one pixel
    sizes = np.bincount(index)
    assert sizes.max() - sizes.min() <= 1


def test_render_clips_to_unit_range():
    colours = np.array([[[-1.0, 0.5, 2.0]]], np.float32)
    pixels = render(colours, 4).numpy()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    np.testing.assert_allclose(pixels[0, 0], [0.0, 0.5, 1.0])


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.15, 0.2])
def test_area_fraction_is_close(fraction):
    geometry = PatchGeometry(224, 224, fraction)
    assert abs(geometry.area_fraction - fraction) < 0.01


def test_placement_inside_image_and_off_the_box():
    box = (0, 0, 20, 32)  # top 20 rows must stay clear
    geometry = PatchGeometry(32, 32, 0.1, cells=2, keep_clear=box).check()
    side = geometry.side
    offsets = random_offsets(500, geometry, tf.constant([3, 4])).numpy()
    assert (offsets >= 0).all()
    assert (offsets + side <= 32).all()
    assert (offsets[:, 0] >= 20).all()
    images = np.zeros([500, 32, 32, 3], np.float32)
    patched = apply_patch(images, tf.ones([side, side, 3]), offsets).numpy()
    assert np.allclose(patched[:, :20], 0.0)
    np.testing.assert_allclose(patched.sum(axis=(1, 2, 3)), 3 * side * side)
    assert len({tuple(o) for o in offsets}) > 10  # positions vary


def test_apply_patch_is_differentiable_in_colours():
    colours = tf.Variable(tf.fill([2, 2, 3], 0.5))
    with tf.GradientTape() as tape:
        out = apply_patch(tf.zeros([2, 8, 8, 3]), render(colours, 4), tf.constant([[0, 0], [4, 4]]))
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, colours).numpy()
    np.testing.assert_allclose(grad, np.full([2, 2, 3], 2 * 4.0))  # 2 images × 4 pixels per cell


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(fraction=0.0), "strictly between"),
        (dict(fraction=1.0), "strictly between"),
        (dict(fraction=-0.2), "strictly between"),
        (dict(fraction=0.01, cells=10), "finer than"),
        (dict(fraction=0.5, keep_clear=(0, 0, 32, 32)), "keeps clear"),
    ],
)
def test_bad_geometry(kwargs, words):
    with pytest.raises(UserInputError, match=words):
        PatchGeometry(32, 32, **kwargs).check()
