"""SegValidator: Ultralytics' per-image bookkeeping, letterbox handling, mask resolutions, the
"no box TP → all zero" rule, the table / printout / CSV / summary shapes; seg_masks geometry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poison_tf.metrics import seg_masks
from poison_tf.metrics.seg_validation import COLUMNS, HEADER, SegValidator


def _square_masks(boxes, size):
    masks = np.zeros((len(boxes), size, size), bool)
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, int)):
        masks[i, y1:y2, x1:x2] = True
    return masks


GT_BOXES = np.array([[0, 0, 8, 8], [10, 10, 16, 16]], float)
GT_CLASSES = np.array([0, 1])


def _perfect(validator: SegValidator) -> None:
    masks = _square_masks(GT_BOXES, 16)
    validator.update(GT_BOXES, [0.9, 0.8], GT_CLASSES, masks, GT_BOXES, GT_CLASSES, masks)


def test_table_shape_all_row_first_and_perfect_scores():
    validator = SegValidator(["car", "person", "bus"])
    _perfect(validator)
    validator.update(np.zeros((0, 4)), [], [], None, np.zeros((0, 4)), [], None)  # background
    table = validator.table()
    assert list(table.columns) == list(COLUMNS)
    assert list(table["Class"]) == ["all", "car", "person"]  # bus has no ground truth: no row
    assert list(table["Images"]) == [2, 1, 1]  # the background image counts in `all`
    assert list(table["Instances"]) == [2, 1, 1]
    np.testing.assert_allclose(table.iloc[:, 3:].to_numpy(float), [[1, 1, 0.995, 0.995] * 2] * 3)


def test_images_without_predictions_still_count_their_targets():
    one = SegValidator(["car", "person"], masks=False)
    _perfect(one)
    two = SegValidator(["car", "person"], masks=False)
    _perfect(two)
    two.update(np.zeros((0, 4)), [], [], None, GT_BOXES[:1], GT_CLASSES[:1], None)
    before, after = one.table().set_index("Class"), two.table().set_index("Class")
    assert after.loc["car", "Instances"] == 2 and after.loc["car", "Images"] == 2
    assert after.loc["car", "Box(R)"] == pytest.approx(0.5)  # 1 of 2 cars found
    assert after.loc["car", "Box(mAP50)"] < before.loc["car", "Box(mAP50)"]
    assert after.loc["person", "Box(mAP50)"] == before.loc["person", "Box(mAP50)"]


def test_no_box_true_positive_makes_every_metric_zero_even_masks():
    # the masks match perfectly but the boxes are elsewhere: Ultralytics skips metrics.process
    masks = _square_masks(GT_BOXES, 16)
    far = GT_BOXES + 100
    validator = SegValidator(["car", "person"])
    validator.update(far, [0.9, 0.8], GT_CLASSES, masks, GT_BOXES, GT_CLASSES, masks)
    table = validator.table()
    assert (table.iloc[:, 3:].to_numpy() == 0).all()
    assert list(table["Class"]) == ["all", "car", "person"]
    # with one box TP the mask metrics come back (and exceed the box ones)
    near = far.copy()
    near[0] = GT_BOXES[0]
    validator = SegValidator(["car", "person"])
    validator.update(near, [0.9, 0.8], GT_CLASSES, masks, GT_BOXES, GT_CLASSES, masks)
    row = validator.table().iloc[0]
    assert row["Mask(mAP50)"] == pytest.approx(0.995) and row["Box(mAP50)"] < 0.6


def test_letterbox_compares_boxes_in_original_pixels_after_clipping():
    # original 10 x 10 image, letterbox ratio 2 and pad_x 5: gt [0,0,10,10] → [5,0,25,20].
    gt = np.array([[5.0, 0, 25, 20]])
    pred = np.array([[1.0, 0, 25, 20]])  # runs into the left padding: IoU 400 / 480 = 0.83
    plain = SegValidator(["a"], masks=False)
    plain.update(pred, [0.9], [0], None, gt, [0], None)
    boxed = SegValidator(["a"], masks=False)
    boxed.update(pred, [0.9], [0], None, gt, [0], None, letterbox=(2, 5, 0), orig_size=(10, 10))
    # in original pixels the prediction is [-2, 0, 10, 10], clipped to the gt box: IoU 1
    assert plain.table().loc[0, "Box(mAP50-95)"] == pytest.approx(0.995 * 7 / 10)  # t <= 0.8
    assert boxed.table().loc[0, "Box(mAP50-95)"] == pytest.approx(0.995)


def test_ground_truth_masks_as_overlap_map_or_at_another_resolution():
    masks = _square_masks(GT_BOXES, 16)
    overlap = np.zeros((16, 16), np.uint8)
    for i in np.argsort(-masks.sum(axis=(1, 2)), kind="stable"):  # area descending
        overlap[masks[i]] = i + 1
    big = masks.repeat(2, axis=1).repeat(2, axis=2)  # ground truth at 32 x 32
    results = []
    for gt_masks in (masks, overlap, big):
        validator = SegValidator(["car", "person"])
        validator.update(GT_BOXES, [0.9, 0.8], GT_CLASSES, masks, GT_BOXES, GT_CLASSES, gt_masks)
        results.append(validator.table())
    pd.testing.assert_frame_equal(results[0], results[1])
    pd.testing.assert_frame_equal(results[0], results[2])
    # a wrong mask lowers only the mask columns
    shifted = np.roll(masks, 3, axis=2)
    validator = SegValidator(["car", "person"])
    validator.update(GT_BOXES, [0.9, 0.8], GT_CLASSES, shifted, GT_BOXES, GT_CLASSES, masks)
    row = validator.table().iloc[0]
    assert row["Box(mAP50-95)"] == pytest.approx(0.995) and row["Mask(mAP50-95)"] < 0.5


def test_detection_order_is_by_confidence_not_input_order():
    # two detections on one gt; the more confident one (given second) must own it
    gt = np.array([[0.0, 0, 10, 10]])
    preds = np.array([[0.0, 0, 10, 10], [0.0, 0, 10, 9.2]])  # IoU 1.0 and 0.92
    validator = SegValidator(["a"], masks=False)
    validator.update(preds, [0.3, 0.9], [0, 0], None, gt, [0], None)
    stats = validator._stats()
    np.testing.assert_array_equal(stats["conf"], [0.9, 0.3])
    # the 0.9-confidence box (IoU 0.92) is the TP up to t = 0.90; at t = 0.95 only the other
    np.testing.assert_array_equal(stats["tp"][:, 8], [True, False])
    np.testing.assert_array_equal(stats["tp"][:, 9], [False, True])


def test_print_csv_and_summary(tmp_path, capsys):
    validator = SegValidator(["car", "person"], masks=False)
    _perfect(validator)
    validator.print()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == HEADER
    cells = ["all".rjust(22), "1", "2", "1", "1", "0.995", "0.995", "nan", "nan", "nan", "nan"]
    assert lines[1] == cells[0] + "".join(cell.rjust(11) for cell in cells[1:])
    assert len(lines) == 4 and lines[2].split()[0] == "car"
    path = tmp_path / "out" / "table.csv"
    validator.write_csv(str(path))
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(COLUMNS) and frame["Mask(P)"].isna().all()
    summary = validator.summary()
    assert summary["metrics/mAP50(B)"] == pytest.approx(0.995)
    assert summary["fitness"] == pytest.approx(0.995)
    assert not any(key.endswith("(M)") for key in summary)
    with_masks = SegValidator(["car", "person"])
    _perfect(with_masks)
    assert with_masks.summary()["fitness"] == pytest.approx(2 * 0.995)


def test_resize_masks_matches_tf_bilinear_half_pixel():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    masks = rng.uniform(size=(3, 12, 20)) < 0.4
    for height, width in ((24, 40), (7, 9), (12, 33)):
        ours = seg_masks.resize_masks(masks, height, width)
        ref = tf.image.resize(masks.astype(np.float32)[..., None], (height, width)).numpy()[..., 0]
        undecided = np.abs(ref - 0.5) < 1e-5
        np.testing.assert_array_equal(ours[~undecided], (ref > 0.5)[~undecided])


def test_unletterbox_masks_and_boxes_invert_the_letterbox():
    # original 40 x 80 (h x w), S = 160: ratio 2, pad_y 40; prototypes at S / 4 = 40
    letterbox, orig = (2.0, 0.0, 40.0), (40, 80)
    proto = np.zeros((1, 40, 40), bool)
    proto[0, 15:25, 10:30] = True  # input y 60..100, x 40..120 → original y 10..30, x 20..60
    back = seg_masks.unletterbox_masks(proto, letterbox, orig, input_size=160)[0]
    expected = np.zeros(orig, bool)
    expected[10:30, 20:60] = True
    assert back.shape == orig
    assert (back & expected).sum() / (back | expected).sum() > 0.95
    assert back[12:28, 22:58].all() and not back[:8].any()
    boxes = seg_masks.unletterbox_boxes([[40, 60, 120, 100], [-10, 0, 200, 170]], letterbox, orig)
    np.testing.assert_allclose(boxes, [[20, 10, 60, 30], [0, 0, 80, 40]])


def test_rasterize_polygons_uses_pixel_centres():
    # a square from 0.25 to 0.75 of an 8 x 8 image covers pixels 2..5 (centres 2.5 .. 5.5)
    square = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    triangle = np.array([[0, 0], [0.95, 0], [0, 0.95]])  # centres with x + y < 7.6
    masks = seg_masks.rasterize_polygons([square, triangle], 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(masks[0], expected)
    rows, cols = np.mgrid[0:8, 0:8]
    np.testing.assert_array_equal(masks[1], (rows + cols + 1) < 7.6)
    boxes = seg_masks.polygon_boxes([square], 8, 16)
    np.testing.assert_allclose(boxes, [[4, 2, 12, 6]])
