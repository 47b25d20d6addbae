"""Synthetic faces: deterministic, 55×47 RGB, identities that differ, learnable identity cues."""

from __future__ import annotations

import numpy as np

from poison_tf.data.synthetic_faces import render_faces


def test_same_seed_same_faces_other_seed_other_faces():
    a, labels = render_faces(3, 4, seed=5)
    b, _ = render_faces(3, 4, seed=5)
    c, _ = render_faces(3, 4, seed=6)
    assert a.shape == (12, 55, 47, 3) and a.dtype == np.uint8
    assert list(labels) == [0] * 4 + [1] * 4 + [2] * 4
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_identities_differ_more_than_images_of_one_identity():
    images, labels = render_faces(6, 10, seed=1)
    # the face centre (cheeks, eyes, mouth) without the jittered background
    centre = images[:, 14:46, 10:37].astype(np.float32).reshape(len(images), -1)
    means = np.stack([centre[labels == k].mean(0) for k in range(6)])
    within = np.mean([np.abs(centre[labels == k] - means[k]).mean() for k in range(6)])
    between = np.mean(
        [np.abs(means[i] - means[j]).mean() for i in range(6) for j in range(i + 1, 6)]
    )
    assert between > 1.5 * within
    # a nearest-class-mean classifier built on half the images recognises the other half
    first = (np.arange(len(images)) % 10) < 5
    half_means = np.stack([centre[first & (labels == k)].mean(0) for k in range(6)])
    nearest = np.argmin(np.abs(centre[~first, None] - half_means[None]).mean(-1), axis=1)
    assert np.mean(nearest == labels[~first]) > 0.9
