"""COCO instances JSON: polygons, multi-part polygons, compressed and uncompressed RLE, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from poison_tf.data.coco_instances import load_coco_instances
from poison_tf.data.seg_rasterize import encode_sample
from poison_tf.errors import UserInputError

H, W = 40, 60


def _rect_mask(x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def _uncompressed(mask: np.ndarray) -> dict:
    flat = mask.reshape(-1, order="F")
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return {"size": [H, W], "counts": np.diff(np.concatenate([[0], changes])).tolist()}


def _dataset(tmp_path, **overrides) -> tuple[str, str]:
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "000000000042.png")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "empty.png")
    compressed = mask_utils.encode(np.asfortranarray(_rect_mask(30, 4, 50, 20)))
    data = {
        "images": [
            {"id": 42, "file_name": "000000000042.png", "height": H, "width": W},
            {"id": 7, "file_name": "empty.png", "height": H, "width": W},
        ],
        "categories": [{"id": 9, "name": "bus"}, {"id": 3, "name": "car"}],
        "annotations": [
            {
                "id": 100,
                "image_id": 42,
                "category_id": 9,
                "segmentation": [[4, 4, 20, 4, 20, 24, 4, 24]],
            },
            {
                "id": 101,
                "image_id": 42,
                "category_id": 3,
                "segmentation": {"size": [H, W], "counts": compressed["counts"].decode()},
            },
            {
                "id": 102,
                "image_id": 42,
                "category_id": 9,
                "segmentation": _uncompressed(_rect_mask(8, 28, 56, 36)),
            },
            {
                "id": 103,
                "image_id": 42,
                "category_id": 3,
                "segmentation": [
                    [0, 0, 8, 0, 8, 8, 0, 8],
                    [48, 32, 60, 32, 60, 40, 48, 40, 48, 36],
                ],
            },
            {
                "id": 104,
                "image_id": 42,
                "category_id": 3,
                "iscrowd": 1,
                "segmentation": [[0, 0, 4, 0, 4, 4]],
            },
        ],
    }
    data.update(overrides)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return str(path), str(tmp_path)


def test_polygons_and_rle_round_trip(tmp_path):
    names, samples = load_coco_instances(*_dataset(tmp_path))
    assert names == ["car", "bus"]  # sorted by category id 3, 9
    assert [s.stem for s in samples] == ["empty", "000000000042"]  # sorted by image id 7, 42
    assert samples[0].num_instances == 0
    sample = samples[1]
    assert sample.classes.tolist() == [1, 0, 1, 0] and sample.lines.tolist() == [100, 101, 102, 103]
    np.testing.assert_allclose(
        sample.polygons[0], np.array([[4, 4], [20, 4], [20, 24], [4, 24]]) / [W, H]
    )
    assert sample.masks[0] is None
    np.testing.assert_array_equal(sample.masks[1], _rect_mask(30, 4, 50, 20).astype(bool))
    np.testing.assert_array_equal(sample.masks[2], _rect_mask(8, 28, 56, 36).astype(bool))
    assert sample.masks[3].sum() == 8 * 8 + 12 * 8  # two parts, pycocotools rasterisation
    assert sample.polygons[3].shape == (5, 2)  # the largest part


def test_rle_instances_rasterise_like_rectangles(tmp_path):
    _, samples = load_coco_instances(*_dataset(tmp_path))
    with Image.open(samples[1].image_path) as image:
        encoded = encode_sample(samples[1], image, 64, 0)
    ratio, left, top = encoded.letterbox.as_list()
    rle_row = int(np.flatnonzero(encoded.lines == 101)[0])
    np.testing.assert_allclose(
        encoded.boxes[rle_row],
        np.array([30, 4, 50, 20]) * ratio + [left, top, left, top],
        atol=1e-4,
    )
    assert (encoded.mask == rle_row + 1).sum() > 0


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {
                "images": [{"id": 42, "file_name": "missing.png", "height": H, "width": W}],
                "annotations": [],
            },
            "'missing.png' (id 42) not found",
        ),
        ({"categories": [{"id": 9, "name": "bus"}]}, "category_id 3 is not in 'categories'"),
        (
            {
                "annotations": [
                    {"id": 5, "image_id": 1, "category_id": 9, "segmentation": [[0, 0, 1, 0, 1, 1]]}
                ]
            },
            "image_id 1 is not in 'images'",
        ),
        (
            {"annotations": [{"id": 5, "image_id": 42, "category_id": 9}]},
            "missing key(s) ['segmentation']",
        ),
        (
            {"images": [{"id": 42, "file_name": "000000000042.png"}]},
            "images[0]: missing key(s) ['height', 'width']",
        ),
        (
            {
                "annotations": [
                    {
                        "id": 5,
                        "image_id": 42,
                        "category_id": 9,
                        "segmentation": {"size": [10, 10], "counts": [100]},
                    }
                ]
            },
            "RLE size [10, 10] differs",
        ),
        (
            {
                "annotations": [
                    {
                        "id": 5,
                        "image_id": 42,
                        "category_id": 9,
                        "segmentation": [[0, 0, 90, 0, 9, 9]],
                    }
                ]
            },
            "outside the 60x40 image",
        ),
        (
            {
                "annotations": [
                    {"id": 5, "image_id": 42, "category_id": 9, "segmentation": [[0, 0, 9, 0, 9]]}
                ]
            },
            "odd number of coordinates",
        ),
    ],
)
def test_bad_coco_input(tmp_path, overrides, problem):
    path, folder = _dataset(tmp_path, **overrides)
    with pytest.raises(UserInputError) as error:
        load_coco_instances(path, folder)
    assert path in str(error.value) and problem in str(error.value)


def test_missing_top_level_key_and_bad_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(UserInputError, match=r"missing key\(s\) \['categories'\]"):
        load_coco_instances(str(path), str(tmp_path))
    path.write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        load_coco_instances(str(path), str(tmp_path))
