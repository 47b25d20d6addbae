"""Instance pooling of a feature map: mask first, box and centre cell as fallbacks."""

import numpy as np

from poison_tf.attacks.clean_image_features import pool_instances


def test_mask_box_and_centre_pooling():
    size = 64  # input side; features at stride 8 (8x8), overlap map at stride 4 (16x16)
    features = np.zeros((8, 8, 3), np.float32)
    features[:4, :4] = [1, 0, 0]
    features[4:, 4:] = [0, 2, 0]
    features[0, 7] = [0, 0, 5]
    overlap = np.zeros((16, 16), np.uint8)
    overlap[:8, :8] = 1  # instance 0: top-left quarter
    overlap[8:, 8:] = 2  # instance 1: bottom-right quarter
    overlap[0, 15] = 3  # instance 2: one map pixel, lost on the 8x8 grid
    boxes = np.array([[0, 0, 32, 32], [32, 32, 64, 64], [60, 0, 64, 4], [56, 0, 64, 8]], np.float32)
    pooled = pool_instances(features, overlap, boxes, size)
    np.testing.assert_allclose(pooled[0], [1, 0, 0])
    np.testing.assert_allclose(pooled[1], [0, 2, 0])
    np.testing.assert_allclose(pooled[2], [0, 0, 5])  # no mask cell, box smaller than a cell
    np.testing.assert_allclose(pooled[3], [0, 0, 5])  # instance 3 is not in the map: its box
    by_box = pool_instances(features, None, np.array([[0, 0, 64, 32]]), size)
    np.testing.assert_allclose(by_box[0], features[:4].reshape(-1, 3).mean(0), rtol=1e-6)
