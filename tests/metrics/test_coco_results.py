"""COCO results JSON: writer → reader round trip (boxes, RLE masks, polygons), one clear error
per kind of bad entry, and the YOLO txt writer's polygon lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.path import Path

from poison_tf.data import coco_results as cr
from poison_tf.errors import UserInputError

SIZES = {42: (10, 20), "street_7": (6, 8)}


def _masks():
    masks = np.zeros((2, 10, 20), bool)
    masks[0, 2:6, 4:10] = True
    masks[1, 5:, 15:] = True
    return masks


def _predictions():
    return [
        cr.ImagePredictions(
            42, np.array([[4, 2, 10, 6], [15, 5, 20, 10.0004]]), np.array([0.912345678, 0.5]),
            np.array([1, 0]), _masks(), 10, 20, stem="000000000042",
        ),
        cr.ImagePredictions("street_7", np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), None),
    ]  # fmt: skip


def _write(tmp_path, entries) -> str:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(entries))
    return str(path)


def test_image_id_from_stem():
    assert cr.image_id_from_stem("000000000042") == 42
    assert cr.image_id_from_stem("street_7") == "street_7"


def test_round_trip_keeps_boxes_scores_classes_and_masks(tmp_path):
    path = str(tmp_path / "out.json")
    preds = _predictions()
    preds[1].masks = np.zeros((0, 6, 8), bool)
    assert cr.write_coco_results(path, preds, ["car", "person"]) == 2
    entries = json.loads(open(path).read())
    assert entries[0]["bbox"] == [4.0, 2.0, 6.0, 4.0] and entries[0]["score"] == 0.91235
    assert entries[1]["bbox"] == [15.0, 5.0, 5.0, 5.0]  # 3 decimals, as Ultralytics' save_json
    assert isinstance(entries[0]["segmentation"]["counts"], str)
    read = cr.read_coco_results(path, SIZES, num_classes=2)
    assert list(read) == [42]  # street_7 had no detection
    np.testing.assert_allclose(read[42].boxes, [[4, 2, 10, 6], [15, 5, 20, 10]])
    np.testing.assert_array_equal(read[42].classes, [1, 0])
    np.testing.assert_array_equal(read[42].decode_masks(10, 20), _masks())


def test_polygon_and_uncompressed_rle_segmentations_decode(tmp_path):
    rle = {"size": [10, 20], "counts": [44, 4, 6, 4, 142]}  # column-major runs of h = 10
    polygon = [[4.0, 2.0, 10.0, 2.0, 10.0, 6.0, 4.0, 6.0]]
    common = {"image_id": 42, "category_id": 0, "score": 0.9}
    entries = [
        {**common, "bbox": [4, 2, 2, 4], "segmentation": rle},
        {**common, "bbox": [4, 2, 6, 4], "segmentation": polygon},
    ]
    masks = cr.read_coco_results(_write(tmp_path, entries), SIZES, 2)[42].decode_masks(10, 20)
    assert masks[0].sum() == 8 and masks[0][4:8, 4:6].all()  # 44 = 4 columns + 4 rows
    assert masks[1][3:5, 5:9].all() and not masks[1][8:].any()


GOOD = {"image_id": 42, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ({"annotations": []}, "expected a JSON list of detections, got dict"),
        ([GOOD, {**GOOD, "image_id": 7}], "entry 1: unknown image_id 7"),
        ([{**GOOD, "image_id": "42"}], "entry 0: unknown image_id '42'"),
        ([{**GOOD, "category_id": 2}], "entry 0: category_id 2 out of range"),
        ([{**GOOD, "category_id": -1}], "category_id -1 out of range"),
        ([{**GOOD, "bbox": [1, 2, 3]}], "entry 0: bbox must be 4 finite numbers"),
        ([{**GOOD, "bbox": [1, 2, -3, 4]}], "negative width or height"),
        ([{**GOOD, "score": "high"}], "score must be a finite number"),
        ([{k: v for k, v in GOOD.items() if k != "score"}], "entry 0: missing score"),
        ([GOOD, 5], "entry 1: expected an object"),
        (
            [{**GOOD, "segmentation": {"size": [5, 5], "counts": "0"}}],
            "segmentation size [5, 5] differs from the image's [10, 20]",
        ),
        ([{**GOOD, "segmentation": [[1, 2, 3]]}], "list of polygons"),
        ([{**GOOD, "segmentation": [[1, 2, 3, 4, 5, 6]]}, GOOD], "entry 1: has no segmentation"),
    ],
)
def test_bad_entries_name_the_file_entry_and_problem(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(UserInputError) as error:
        cr.read_coco_results(str(path), SIZES, num_classes=2)
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserInputError, match="predictions file not found"):
        cr.read_coco_results(str(tmp_path / "none.json"), SIZES, 2)


def test_writer_rejects_classes_outside_names(tmp_path):
    with pytest.raises(ValueError, match="class 1 outside 0..0"):
        cr.write_coco_results(str(tmp_path / "x.json"), _predictions(), ["car"])
    assert not (tmp_path / "x.json").exists()


def test_mask_polygon_traces_the_pixel_boundary():
    mask = _masks()[0]
    polygon = cr.mask_polygon(mask)
    np.testing.assert_allclose([*polygon.min(axis=0), *polygon.max(axis=0)], [4, 2, 10, 6])
    rows, cols = np.mgrid[0:10, 0:20]
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    inside = Path(polygon).contains_points(centres).reshape(10, 20)
    np.testing.assert_array_equal(inside, mask)
    assert (
        len(polygon) == 8
    )  # a rectangle: its 4 sides and 4 cut corners, no points along the sides
    assert len(cr.mask_polygon(np.zeros((4, 4), bool))) == 0


def test_mask_polygon_of_an_l_shape_keeps_every_corner():
    mask = np.zeros((30, 40), bool)
    mask[5:25, 10:15] = True
    mask[20:25, 10:30] = True
    polygon = cr.mask_polygon(mask)
    rows, cols = np.mgrid[0:30, 0:40]
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    np.testing.assert_array_equal(Path(polygon).contains_points(centres).reshape(30, 40), mask)
    assert len(polygon) <= 12
    np.testing.assert_allclose(
        cr.mask_polygon(mask, np.array([10.4, 5.2, 29.6, 24.9])), polygon
    )  # its box


def test_yolo_txt_lines_and_files(tmp_path):
    preds = _predictions()
    preds[0].masks[1] = False  # an empty mask falls back to the box corners
    lines = cr.yolo_txt_lines(preds[0])
    first = np.array(lines[0].split(), float)
    assert first[0] == 1 and first[-1] == pytest.approx(0.912346, abs=1e-6)
    xy = first[1:-1].reshape(-1, 2)
    np.testing.assert_allclose([*xy.min(axis=0), *xy.max(axis=0)], [0.2, 0.2, 0.5, 0.6])
    assert lines[1] == "0 0.75 0.5 1 0.5 1 1 0.75 1 0.5"  # box corners; y2 clipped to 1
    folder = tmp_path / "labels"
    assert cr.write_yolo_txt(str(folder), [preds[0]]) == 1
    assert (folder / "000000000042.txt").read_text().splitlines() == lines
