"""COCO results files with wrong JSON types or values pycocotools would trust (issue 18).

Every case is refused by `read_coco_results` before any pycocotools call (the polygon case used
to crash the process with SIGSEGV inside pycocotools)."""

from __future__ import annotations

import json

import pytest
from pycocotools import mask as mask_utils

from poison_tf.data.coco_checks import rle_counts_from_string
from poison_tf.data.coco_results import read_coco_results
from poison_tf.errors import UserInputError

SIZES = {1: (40, 60)}
GOOD = {"image_id": 1, "category_id": 0, "bbox": [1.0, 2.0, 10.0, 8.0], "score": 0.9}


def _read(tmp_path, entries=None, raw=None):
    path = tmp_path / "p.json"
    path.write_text(raw if raw is not None else json.dumps(entries))
    return read_coco_results(str(path), SIZES, 3)


def _rle(counts):
    return dict(GOOD, segmentation={"size": [40, 60], "counts": counts})


@pytest.mark.parametrize(
    "entry, message",
    [
        (dict(GOOD, image_id=[1]), "image_id must be an integer or a file stem"),
        (dict(GOOD, image_id={"id": 1}), "image_id must be an integer or a file stem"),
        (_rle(5), "RLE counts must be a compressed string or a list"),
        (_rle(None), "RLE counts must be a compressed string or a list"),
        (_rle("\x00garbage~"), "outside the compressed-RLE alphabet"),
        (_rle([-5, 2400, 5]), "negative run length"),
        (_rle([10, 20, 30]), "sum to 60 pixels"),
        (_rle("0" * 1000), "sum to 0 pixels"),
        (dict(GOOD, segmentation=[[1e300, 1e300, -1e300, 5, 5, 1e300]]), "far outside"),
        (dict(GOOD, bbox=[1e308, 1e308, 1e308, 1e308]), "far outside"),
    ],
    ids=[
        "image_id_list", "image_id_object", "counts_int", "counts_null", "counts_garbage",
        "counts_negative", "counts_wrong_area", "counts_long_zeros", "polygon_huge", "bbox_huge",
    ],
)  # fmt: skip
def test_wrong_types_and_values(tmp_path, entry, message):
    with pytest.raises(UserInputError, match=message):
        _read(tmp_path, [entry])


def test_deeply_nested_json(tmp_path):
    with pytest.raises(UserInputError, match="nested"):
        _read(tmp_path, raw="[" * 200_000 + "]" * 200_000)


def test_valid_rle_strings_decode_like_pycocotools():
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(50):
        mask = rng.random((13, 17)) > rng.random()
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        counts = rle_counts_from_string(rle["counts"].decode(), "x")
        back = mask_utils.decode(
            mask_utils.frPyObjects({"size": [13, 17], "counts": counts}, 13, 17)
        )
        assert (back == mask).all()


def test_a_valid_rle_entry_is_accepted(tmp_path):
    import numpy as np

    mask = np.zeros((40, 60), np.uint8)
    mask[5:10, 5:20] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    entry = dict(GOOD, segmentation={"size": [40, 60], "counts": rle["counts"].decode()})
    results = _read(tmp_path, [entry])
    assert results[1].decode_masks(40, 60)[0].sum() == 75
