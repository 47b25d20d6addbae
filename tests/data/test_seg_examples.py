"""Seg examples: rasterisation, overlap order, letterbox maths, records, and the tf.data reader
(flip / affine keep boxes consistent with the mask, determinism, relabel hook, padding)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from poison_tf.data import seg_examples
from poison_tf.data.seg_augment import SegAugment
from poison_tf.data.seg_rasterize import encode_sample, letterbox_geometry
from poison_tf.data.yolo_seg import SegSample

NO_AUGMENT = SegAugment(flip_lr=0.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, scale=0.0, translate=0.0)


def _square(x0: float, y0: float, x1: float, y1: float, width: float, height: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32) / [width, height]


def _sample(tmp_path, name: str, height: int, width: int, boxes: list, classes=None) -> SegSample:
    path = tmp_path / f"{name}.png"
    rng = np.random.default_rng(len(name) + height)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    polygons = [_square(*box, width, height) for box in boxes]
    classes = np.arange(len(boxes)) if classes is None else np.asarray(classes)
    return SegSample(
        str(path),
        name,
        height,
        width,
        classes.astype(np.int64),
        polygons,
        np.arange(1, len(boxes) + 1, dtype=np.int64),
    )


def _encode(sample: SegSample, size: int, first_id: int = 0, max_instances: int = 100):
    with Image.open(sample.image_path) as image:
        return encode_sample(sample, image, size, first_id, max_instances)


def test_square_polygon_gives_exact_pixel_count_at_quarter_resolution(tmp_path):
    encoded = _encode(_sample(tmp_path, "a", 64, 64, [(8, 8, 40, 40)]), 64)
    assert encoded.mask.shape == (16, 16)
    rows, cols = np.nonzero(encoded.mask == 1)
    assert len(rows) == 64 and (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 9, 2, 9)
    np.testing.assert_allclose(encoded.boxes[0], [8, 8, 40, 40], atol=1e-4)


@pytest.mark.parametrize(("right", "expected"), [(42, 9 * 8), (41, 8 * 8)])
def test_area_downsampling_keeps_blocks_at_least_half_covered(tmp_path, right, expected):
    encoded = _encode(_sample(tmp_path, "b", 64, 64, [(8, 8, right, 40)]), 64)
    assert int((encoded.mask == 1).sum()) == expected


def test_small_object_inside_large_one_keeps_its_own_index(tmp_path):
    sample = _sample(tmp_path, "c", 64, 64, [(16, 16, 32, 32), (0, 0, 48, 48)], classes=[3, 7])
    encoded = _encode(sample, 64, first_id=10)
    assert encoded.classes.tolist() == [7, 3]  # area descending
    assert encoded.instance_ids.tolist() == [11, 10] and encoded.lines.tolist() == [2, 1]
    assert int((encoded.mask == 2).sum()) == 16
    assert int((encoded.mask == 1).sum()) == 12 * 12 - 16
    assert (encoded.mask[4:8, 4:8] == 2).all()


def test_max_instances_drops_the_smallest(tmp_path):
    sample = _sample(tmp_path, "d", 64, 64, [(0, 0, 8, 8), (0, 0, 40, 40), (32, 32, 56, 56)])
    encoded = _encode(sample, 64, max_instances=2)
    assert encoded.dropped == 1 and encoded.lines.tolist() == [2, 3]
    assert encoded.mask.max() == 2


@pytest.mark.parametrize(
    ("height", "width", "size"), [(50, 100, 64), (427, 640, 320), (300, 97, 128)]
)
def test_letterbox_boxes_project_back_to_original_pixels(tmp_path, height, width, size):
    rng = np.random.default_rng(height)
    boxes = []
    for _ in range(4):
        x = np.sort(rng.uniform(0, width, 2))
        y = np.sort(rng.uniform(0, height, 2))
        boxes.append((x[0], y[0], x[1], y[1]))
    encoded = _encode(_sample(tmp_path, "e", height, width, boxes), size)
    ratio, pad_x, pad_y = encoded.letterbox.as_list()
    geometry = letterbox_geometry(height, width, size)
    assert ratio == pytest.approx(size / max(height, width))
    assert max(geometry.new_width, geometry.new_height) == size
    assert pad_x == round((size - geometry.new_width) / 2 - 0.1)
    assert pad_y == round((size - geometry.new_height) / 2 - 0.1)
    back = (encoded.boxes - [pad_x, pad_y, pad_x, pad_y]) / ratio
    order = np.argsort(encoded.lines)
    np.testing.assert_allclose(back[order], np.array(boxes), atol=1.0)
    image, top, left = encoded.image.astype(int), geometry.top, geometry.left
    assert (image[:top] == 114).all() and (image[top + geometry.new_height :] == 114).all()
    assert (image[:, :left] == 114).all() and (image[:, left + geometry.new_width :] == 114).all()
    assert (image[top : top + geometry.new_height, left : left + geometry.new_width] != 114).any(
        axis=-1
    ).mean() > 0.9


def test_full_resolution_mask_rasterises_like_the_same_polygon(tmp_path):
    polygon_sample = _sample(tmp_path, "f", 96, 128, [(16, 8, 64, 56)])
    full = np.zeros((96, 128), bool)
    full[8:56, 16:64] = True
    mask_sample = SegSample(
        polygon_sample.image_path,
        "f",
        96,
        128,
        np.array([0]),
        [np.zeros((0, 2), np.float32)],
        np.array([1]),
        masks=[full],
    )
    from_polygon, from_mask = _encode(polygon_sample, 64), _encode(mask_sample, 64)
    np.testing.assert_array_equal(from_polygon.mask, from_mask.mask)
    np.testing.assert_allclose(from_polygon.boxes, from_mask.boxes, atol=1e-4)


def _write(tmp_path, samples: list[SegSample], size: int = 64) -> str:
    folder = str(tmp_path / "examples")
    import os

    os.makedirs(folder)
    info = seg_examples.write_seg_split(folder, "train", samples, size, num_shards=3)
    seg_examples.write_seg_schema(
        folder, {"train": info}, size, [f"c{i}" for i in range(8)], "test", 100
    )
    return folder


def _aligned_samples(tmp_path, count: int) -> list[SegSample]:
    rng = np.random.default_rng(0)
    samples = []
    for index in range(count):
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.integers(0, 10, 2) * 4
            w, h = rng.integers(3, 6, 2) * 4
            boxes.append((x0, y0, x0 + w, y0 + h))
        samples.append(
            _sample(tmp_path, f"s{index:02d}", 64, 64, boxes, rng.integers(0, 8, len(boxes)))
        )
    return samples


def test_records_round_trip_in_id_order(tmp_path):
    samples = _aligned_samples(tmp_path, 7)
    folder = _write(tmp_path, samples)
    parsed = list(seg_examples.seg_examples_dataset(folder, "train").as_numpy_iterator())
    assert [int(e["id"]) for e in parsed] == list(range(7))
    assert [e["stem"].decode() for e in parsed] == [s.stem for s in samples]
    ids = np.concatenate([e["instance_ids"] for e in parsed])
    assert sorted(ids.tolist()) == list(range(sum(s.num_instances for s in samples)))
    for example, sample in zip(parsed, samples):
        direct = _encode(sample, 64)
        np.testing.assert_array_equal(example["mask"], direct.mask)
        np.testing.assert_array_equal(example["image"], direct.image)
        assert example["classes"].tolist() == direct.classes.tolist()


def _mask_extents(mask: np.ndarray, index: int) -> np.ndarray:
    rows, cols = np.nonzero(mask == index)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]) * 4.0


def test_flip_keeps_boxes_consistent_with_the_mask(tmp_path):
    folder = _write(tmp_path, _aligned_samples(tmp_path, 6))
    flip = SegAugment(flip_lr=1.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, scale=0.0, translate=0.0)
    plain = seg_examples.make_dataset(folder, "train", 6, training=False, augment=NO_AUGMENT)
    flipped = seg_examples.make_dataset(folder, "train", 6, training=False, augment=flip)
    (f0, l0), (f1, l1) = next(iter(plain)), next(iter(flipped))
    np.testing.assert_array_equal(f1["images"].numpy(), f0["images"].numpy()[:, :, ::-1])
    np.testing.assert_array_equal(l1["masks"].numpy(), l0["masks"].numpy()[:, :, ::-1])
    boxes, flipped_boxes = l0["boxes"].numpy(), l1["boxes"].numpy()
    for b in range(6):
        for i in np.flatnonzero(l1["classes"][b].numpy() >= 0):
            x1, y1, x2, y2 = boxes[b, i]
            np.testing.assert_allclose(flipped_boxes[b, i], [64 - x2, y1, 64 - x1, y2])
            extents = _mask_extents(l1["masks"][b].numpy(), i + 1)  # occlusion may shrink it
            assert (extents[:2] >= flipped_boxes[b, i, :2]).all() and (
                extents[2:] <= flipped_boxes[b, i, 2:]
            ).all()


def test_random_affine_keeps_each_mask_inside_its_box_and_drops_vanished(tmp_path):
    folder = _write(tmp_path, _aligned_samples(tmp_path, 8))
    affine = SegAugment(flip_lr=0.5, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, scale=0.5, translate=0.1)
    checked = 0
    for seed in range(3):
        dataset = seg_examples.make_dataset(
            folder, "train", 4, training=True, seed=seed, augment=affine
        )
        for features, labels in dataset:
            assert features["images"].shape == (4, 64, 64, 3)
            for b in range(4):
                real = labels["classes"][b].numpy() >= 0
                count = int(real.sum())
                mask = labels["masks"][b].numpy()
                assert mask.max() <= count and (labels["classes"][b].numpy()[count:] == -1).all()
                boxes = labels["boxes"][b].numpy()
                assert (boxes[real][:, 2:] - boxes[real][:, :2] > 2).all()
                for i in range(count):
                    if (mask == i + 1).any():
                        extents = _mask_extents(mask, i + 1)
                        assert (extents[:2] >= boxes[i, :2] - 4.01).all() and (
                            extents[2:] <= boxes[i, 2:] + 4.01
                        ).all()
                if count and (mask == count).sum() > 4:  # the last instance is never occluded
                    np.testing.assert_allclose(
                        _mask_extents(mask, count), boxes[count - 1], atol=2.01
                    )
                    checked += 1
    assert checked > 10


def test_order_and_augmentation_depend_only_on_seed_and_epoch(tmp_path):
    folder = _write(tmp_path, _aligned_samples(tmp_path, 16))

    def run(seed, epoch):
        dataset = seg_examples.make_dataset(
            folder, "train", 4, training=True, seed=seed, epoch=epoch
        )
        batches = list(dataset.as_numpy_iterator())
        return np.concatenate([labels["image_id"] for _, labels in batches]), batches[0][0][
            "images"
        ]

    ids_a, images_a = run(1, 0)
    ids_b, images_b = run(1, 0)
    ids_c, _ = run(1, 1)
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_array_equal(images_a, images_b)
    assert sorted(ids_a.tolist()) == list(range(16)) and ids_c.tolist() != ids_a.tolist()


def test_relabel_hook_and_padding(tmp_path):
    samples = _aligned_samples(tmp_path, 5)
    folder = _write(tmp_path, samples)

    def relabel(classes, instance_ids):
        return tf.where(instance_ids % 2 == 0, tf.constant(7, classes.dtype), classes)

    dataset = seg_examples.make_dataset(
        folder, "train", 5, training=False, augment=False, relabel=relabel, max_instances=2
    )
    _, labels = next(iter(dataset))
    plain = list(seg_examples.seg_examples_dataset(folder, "train").as_numpy_iterator())
    for b, example in enumerate(plain):
        n = min(len(example["classes"]), 2)
        expected = np.where(example["instance_ids"][:n] % 2 == 0, 7, example["classes"][:n])
        assert labels["classes"][b, :n].numpy().tolist() == expected.tolist()
        assert labels["classes"][b, n:].numpy().tolist() == [-1] * (2 - n)
        assert labels["instance_ids"][b, n:].numpy().tolist() == [-1] * (2 - n)
        assert labels["masks"][b].numpy().max() <= n
    assert labels["masks"].dtype == tf.int32 and labels["classes"].dtype == tf.int32


def test_hsv_jitter_changes_colours_only(tmp_path):
    folder = _write(tmp_path, _aligned_samples(tmp_path, 4))
    hsv = SegAugment(flip_lr=0.0, scale=0.0, translate=0.0)
    (f0, l0), (f1, l1) = (
        next(iter(seg_examples.make_dataset(folder, "train", 4, training=False, augment=a)))
        for a in (NO_AUGMENT, hsv)
    )
    assert float(tf.reduce_max(tf.abs(f1["images"] - f0["images"]))) > 5
    assert float(tf.reduce_min(f1["images"])) >= 0 and float(tf.reduce_max(f1["images"])) <= 255.001
    np.testing.assert_array_equal(l0["masks"].numpy(), l1["masks"].numpy())


def test_cropped_rasterisation_equals_the_full_canvas():
    from poison_tf.data.seg_rasterize import downsample, fill_polygon, rasterize_polygon

    rng = np.random.default_rng(4)
    for _ in range(30):
        points = rng.uniform(-4, 100, (int(rng.integers(3, 9)), 2))
        np.testing.assert_array_equal(
            rasterize_polygon(points, 96), downsample(fill_polygon(points, 96))
        )
