"""Synthetic streets: a readable YOLO-seg folder, deterministic, and exactly labelled occlusion."""

from __future__ import annotations

import filecmp
import os

import numpy as np
from PIL import Image

from poison_tf.data.seg_rasterize import (
    downsample,
    encode_sample,
    fill_polygon,
    letterbox_geometry,
    to_input_pixels,
)
from poison_tf.data.synthetic_streets import CLASS_NAMES, SIMILAR_PAIRS, write_synthetic_streets
from poison_tf.data.yolo_seg import load_split


def test_writes_a_yolo_seg_folder_the_reader_accepts(tmp_path):
    data_yaml = write_synthetic_streets(str(tmp_path), num_train=12, num_val=5, size=96, seed=3)
    names, train = load_split(data_yaml, "train")
    _, val = load_split(data_yaml, "val")
    assert names == list(CLASS_NAMES) and len(train) == 12 and len(val) == 5
    assert all(name in CLASS_NAMES for pair in SIMILAR_PAIRS for name in pair)
    assert all((s.height, s.width) == (96, 96) and s.num_instances >= 1 for s in train + val)
    assert len({int(c) for s in train + val for c in s.classes}) >= 4


def test_same_seed_same_files_and_scenes_do_not_depend_on_the_set_size(tmp_path):
    a = write_synthetic_streets(str(tmp_path / "a"), 3, 1, 64, seed=5)
    b = write_synthetic_streets(str(tmp_path / "b"), 5, 1, 64, seed=5)
    c = write_synthetic_streets(str(tmp_path / "c"), 3, 1, 64, seed=6)
    root = {key: os.path.dirname(path) for key, path in (("a", a), ("b", b), ("c", c))}
    for sub in ("images/train/000002.png", "labels/train/000002.txt", "images/val/000000.png"):
        assert filecmp.cmp(
            os.path.join(root["a"], sub), os.path.join(root["b"], sub), shallow=False
        )
    assert not filecmp.cmp(
        os.path.join(root["a"], "images/train/000000.png"),
        os.path.join(root["c"], "images/train/000000.png"),
        shallow=False,
    )


def test_drawing_order_equals_the_overlap_map_order(tmp_path):
    """Objects are drawn large to small and labelled with full polygons, so painting the map by
    area descending (small wins) reproduces exactly what the image shows in front: for every
    pair of overlapping objects, the one drawn later gets the later (winning) map index."""
    data_yaml = write_synthetic_streets(str(tmp_path), num_train=40, num_val=1, size=128, seed=11)
    _, samples = load_split(data_yaml, "train")
    overlapping_pairs = 0
    for sample in samples:
        with Image.open(sample.image_path) as image:
            encoded = encode_sample(sample, image, 128, 0)
        rank = {int(line): r for r, line in enumerate(encoded.lines)}
        full = [_full_mask(sample, i) for i in range(sample.num_instances)]
        for i in range(sample.num_instances):
            for j in range(i + 1, sample.num_instances):
                if (full[i] & full[j]).any():
                    overlapping_pairs += 1
                    assert rank[int(sample.lines[j])] > rank[int(sample.lines[i])], (
                        sample.image_path
                    )
    assert overlapping_pairs >= 3  # occlusion does happen


def _full_mask(sample, index: int) -> np.ndarray:
    box = letterbox_geometry(sample.height, sample.width, 128)
    points = to_input_pixels(sample.polygons[index], sample.height, sample.width, box)
    return downsample(fill_polygon(points, 128))


def test_objects_have_class_specific_colours(tmp_path):
    data_yaml = write_synthetic_streets(str(tmp_path), num_train=60, num_val=1, size=128, seed=2)
    _, samples = load_split(data_yaml, "train")
    colours: dict[int, list] = {}
    for sample in samples:
        with Image.open(sample.image_path) as image:
            encoded = encode_sample(sample, image, 128, 0)
        small = encoded.image.reshape(32, 4, 32, 4, 3).mean(axis=(1, 3))
        for i, cls in enumerate(encoded.classes):
            if (encoded.mask == i + 1).sum() >= 4:
                colours.setdefault(int(cls), []).append(small[encoded.mask == i + 1].mean(axis=0))
    means = {cls: np.mean(values, axis=0) for cls, values in colours.items()}
    bus, person, light = (
        CLASS_NAMES.index("bus"),
        CLASS_NAMES.index("person"),
        CLASS_NAMES.index("traffic light"),
    )
    assert means[bus][0] > means[bus][2] + 60  # yellow/orange
    assert means[light].max() < 90  # dark housing
    assert np.abs(means[bus] - means[person]).sum() > 60
