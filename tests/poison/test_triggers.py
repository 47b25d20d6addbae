"""Trigger pixels: place and values, for every trigger kind."""

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.poison import triggers


def _gray(h=12, w=10, batch=None):
    shape = (h, w, 3) if batch is None else (batch, h, w, 3)
    return tf.fill(shape, 0.5)


def test_checkerboard_pixels_and_corner():
    trig = triggers.checkerboard(size=4, cells=2, corner="bottom_right", margin=1)
    out = trig.apply(_gray()).numpy()
    patch = out[12 - 1 - 4 : 12 - 1, 10 - 1 - 4 : 10 - 1, 0]
    expected = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], np.float32)
    np.testing.assert_array_equal(patch, expected)
    untouched = out.copy()
    untouched[7:11, 5:9] = 0.5
    np.testing.assert_array_equal(untouched, 0.5)


def test_checkerboard_top_left_in_batch():
    trig = triggers.checkerboard(size=3, cells=3, corner="top_left", margin=0)
    out = trig.apply(_gray(batch=2)).numpy()
    assert out.shape == (2, 12, 10, 3)
    np.testing.assert_array_equal(out[:, 0, 0], 1.0)
    np.testing.assert_array_equal(out[:, 0, 1], 0.0)
    np.testing.assert_array_equal(out[:, 1, 1], 1.0)
    assert (out[:, 3:, :] == 0.5).all() and (out[:, :, 3:] == 0.5).all()


def test_point_is_one_pixel():
    trig = triggers.point(size=1, color=(1.0, 0.0, 0.0), corner="top_right", margin=2)
    out = trig.apply(_gray()).numpy()
    changed = np.argwhere((out != 0.5).any(axis=-1))
    assert changed.tolist() == [[2, 10 - 1 - 2]]
    np.testing.assert_array_equal(out[2, 7], [1.0, 0.0, 0.0])


def test_random_pattern_is_fixed_by_seed():
    a = triggers.random_pattern(size=4, seed=3).apply(_gray()).numpy()
    b = triggers.random_pattern(size=4, seed=3).apply(_gray()).numpy()
    c = triggers.random_pattern(size=4, seed=4).apply(_gray()).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    expected = np.random.default_rng(3).random((4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(a[7:11, 5:9], expected)


def test_rgba_image_uses_alpha():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # opaque
    rgba[0, 1, 3] = 0  # transparent
    rgba[1, :, 3] = 128  # half
    out = triggers.rgba_image(rgba, corner="top_left").apply(_gray()).numpy()
    np.testing.assert_allclose(out[0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out[0, 1], [0.5, 0.5, 0.5])
    a = 128 / 255
    np.testing.assert_allclose(
        out[1, 0], [0.5 * (1 - a) + a, 0.5 * (1 - a), 0.5 * (1 - a)], rtol=1e-6
    )


def test_blend_mixes_whole_image():
    pattern = np.ones((4, 4, 3), np.float32)
    out = triggers.blend(alpha=0.2, pattern=pattern).apply(_gray()).numpy()
    np.testing.assert_allclose(out, 0.5 * 0.8 + 0.2, rtol=1e-6)


def test_config_round_trip():
    for trig in [
        triggers.checkerboard(5, 5),
        triggers.point(2),
        triggers.random_pattern(3, seed=9),
        triggers.blend(0.3),
    ]:
        again = triggers.trigger_from_config(trig.config)
        np.testing.assert_array_equal(trig.apply(_gray()).numpy(), again.apply(_gray()).numpy())


def test_bad_trigger_inputs():
    with pytest.raises(UserInputError, match="unknown trigger 'stripes'"):
        triggers.make_trigger("stripes")
    with pytest.raises(UserInputError, match="smaller than the checkerboard trigger"):
        triggers.checkerboard(size=8).check_fits(6, 6, where="data.csv row 3")
    with pytest.raises(UserInputError, match="corner"):
        triggers.make_trigger("point", corner="middle")


def test_usable_in_dataset_map_without_py_function():
    trig = triggers.checkerboard(size=3, cells=3)
    ds = tf.data.Dataset.from_tensors(tf.fill((8, 8, 3), 0.5)).map(trig.apply)
    (out,) = list(ds)
    assert out.numpy()[6, 6, 0] == 1.0  # bottom-right cell of the board
