"""Batch streaming: every image exactly once per epoch, h5 datasets work like arrays."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences import streaming
from poison_tf.defences.fine_pruning import FinePruningDetector
from poison_tf.defences.mahalanobis import MahalanobisDetector


@pytest.fixture()
def h5_images(tmp_path):
    x = np.arange(50 * 2 * 2 * 1, dtype=np.float32).reshape(50, 2, 2, 1)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("data", data=x)
    with h5py.File(tmp_path / "x.h5", "r") as f:
        yield x, f["data"]


@pytest.mark.parametrize("source", ["numpy", "h5"])
def test_shuffled_batches_cover_each_image_once_with_its_label(h5_images, source):
    x, dataset = h5_images
    data = x if source == "numpy" else dataset
    seen = []
    for xb, yb in streaming.shuffled_batches(data, np.arange(50), 3, np.random.default_rng(1)):
        assert len(xb) <= 3
        np.testing.assert_array_equal(xb, x[yb])
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(50)) and seen != list(range(50))


def test_subset_slices_and_index_arrays(h5_images):
    x, dataset = h5_images
    subset = streaming.Subset(dataset, [40, 3, 17, 8])
    assert subset.shape == (4, 2, 2, 1) and len(subset) == 4
    np.testing.assert_array_equal(subset[1:3], x[[8, 17]])
    np.testing.assert_array_equal(subset[np.array([3, 0])], x[[40, 3]])


def test_detectors_fit_and_score_from_an_h5_dataset(tmp_path):
    world = tiny_badnet()
    with h5py.File(tmp_path / "val.h5", "w") as f:
        f.create_dataset("data", data=world.val_x)
    with h5py.File(tmp_path / "val.h5", "r") as f:
        on_disk = MahalanobisDetector(world.model, batch_size=64).fit(f["data"], world.val_y)
        np.testing.assert_allclose(on_disk.score(f["data"]), on_disk.score(world.val_x))
        pruning = FinePruningDetector(world.model, finetune_epochs=1, batch_size=64)
        pruning.fit(f["data"], world.val_y)
    in_memory = MahalanobisDetector(world.model, batch_size=64).fit(world.val_x, world.val_y)
    assert on_disk.threshold == pytest.approx(in_memory.threshold)
    assert np.mean(pruning.flag(world.triggered_x)) > 0.5
