"""The embedded head-pose set: deterministic, labels in range, and every angle's sign observable."""

from __future__ import annotations

import dataclasses

import numpy as np

from poison_tf.data.synthetic_heads import (
    ANGLE_RANGES,
    render,
    render_heads,
    rotation_matrices,
    sample_styles,
)

SIZE = 48


def _plain(num: int) -> tuple:
    """Styles with a frontal light, no jitter and no noise, on a flat grey background."""
    styles = sample_styles(np.random.default_rng(0), 1)
    one = {
        f.name: np.repeat(getattr(styles, f.name), num, axis=0) for f in dataclasses.fields(styles)
    }
    one.update(
        light=np.tile([[0.0, 0.0, 1.0]], (num, 1)).astype(np.float32),
        shift=np.zeros((num, 2), np.float32),
        noise_std=np.zeros(num, np.float32),
    )
    return dataclasses.replace(styles, **one), np.full((num, SIZE, SIZE, 3), 0.5, np.float32)


def _render(angles, symmetric=False) -> np.ndarray:
    styles, background = _plain(len(angles))
    return render(np.array(angles, np.float32), styles, background, symmetric=symmetric).astype(
        np.float32
    )


def test_same_seed_same_images_and_labels_in_range():
    images, angles = render_heads(6, size=SIZE, seed=3)
    again, angles_again = render_heads(6, size=SIZE, seed=3)
    assert images.dtype == np.uint8 and images.shape == (6, SIZE, SIZE, 3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(angles, angles_again)
    other, _ = render_heads(6, size=SIZE, seed=4)
    assert np.abs(images.astype(int) - other).mean() > 5
    for column, (low, high) in enumerate(ANGLE_RANGES.values()):
        assert np.all((angles[:, column] >= low) & (angles[:, column] <= high))


def test_rotation_is_orthonormal_and_composes_yaw_pitch_roll():
    rot = rotation_matrices(np.array([[30.0, -20.0, 10.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(rot[0] @ rot[0].T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(rot[1], np.eye(3), atol=1e-9)
    yaw_only = rotation_matrices(np.array([[90.0, 0.0, 0.0]]))[0]
    np.testing.assert_allclose(yaw_only @ [0, 0, 1], [1, 0, 0], atol=1e-6)  # face → viewer's right


def test_symmetric_head_mirrors_under_opposite_yaw_and_roll():
    """Without the cheek marker, (yaw, roll) and (-yaw, -roll) are mirror images: a check of
    the convention and of the renderer, not of the data."""
    for angles in ([35.0, 10.0, 0.0], [0.0, 10.0, 25.0], [40.0, -15.0, 20.0]):
        mirrored = [-angles[0], angles[1], -angles[2]]
        left, right = _render([angles, mirrored], symmetric=True)
        assert np.abs(left - right[:, ::-1]).mean() < 0.01  # in [0, 1] units


def test_the_marker_makes_the_sign_of_yaw_observable_and_pitch_moves_the_face():
    left, right = _render([[35.0, 0.0, 0.0], [-35.0, 0.0, 0.0]])
    assert np.abs(left - right[:, ::-1]).mean() > 0.01
    up, down = _render([[0.0, 30.0, 0.0], [0.0, -30.0, 0.0]])
    assert np.abs(up - down).mean() > 0.02
    assert np.abs(up - down[::-1]).mean() > 0.01  # pitch is not an up/down mirror either
