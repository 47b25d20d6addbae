"""Attack success, the base-vs-poisoned comparison and the attack summary."""

import numpy as np
import pandas as pd
import pytest

from poison_tf.metrics import clean_image_attack as attack

HOST, TARGET, OTHER = 0, 1, 2


def box_mask(box, size=32):
    """Bool mask [size, size] filling an xyxy box given in mask pixels."""
    mask = np.zeros((size, size), bool)
    x1, y1, x2, y2 = (int(v) for v in box)
    mask[y1:y2, x1:x2] = True
    return mask


def image(gt, preds):
    """gt: [(class, box)], preds: [(class, score, box)] → the update() arguments (masks = boxes)."""
    gt_boxes = np.array([b for _, b in gt], float).reshape(-1, 4)
    gt_classes = np.array([c for c, _ in gt])
    overlap = np.zeros((32, 32), np.int32)
    for i in np.argsort([-(b[2] - b[0]) * (b[3] - b[1]) for b in gt_boxes]):  # area descending
        overlap[box_mask(gt_boxes[i])] = i + 1
    pred_boxes = np.array([b for _, _, b in preds], float).reshape(-1, 4)
    return dict(
        pred_boxes=pred_boxes,
        pred_scores=np.array([s for _, s, _ in preds], float),
        pred_classes=np.array([c for c, _, _ in preds]),
        pred_masks=np.stack([box_mask(b) for b in pred_boxes])
        if preds
        else np.zeros((0, 32, 32), bool),
        gt_boxes=gt_boxes,
        gt_classes=gt_classes,
        gt_masks=overlap,
    )


def test_success_counts_target_predictions_on_host_instances():
    meter = attack.AttackSuccess(HOST, TARGET)
    meter.update(
        **image(
            [(HOST, [0, 0, 10, 10]), (HOST, [20, 20, 30, 30]), (OTHER, [0, 20, 8, 30])],
            [
                (TARGET, 0.9, [0, 0, 10, 9]),  # hit (IoU 0.9)
                (TARGET, 0.2, [20, 20, 30, 30]),  # below confidence 0.25
                (TARGET, 0.9, [0, 20, 8, 30]),
            ],  # on a non-host instance
        )
    )
    meter.update(
        **image(
            [(HOST, [0, 0, 16, 16]), (HOST, [0, 0, 16, 14]), (HOST, [16, 0, 32, 16])],
            [
                (TARGET, 0.8, [0, 0, 16, 15]),  # IoU > 0.5 with two hosts: one-to-one counts once
                (HOST, 0.9, [16, 0, 32, 16]),
            ],  # host kept
        )
    )
    result = meter.result()
    assert result["host_instances"] == 5
    assert result["box_hits"] == 2 and result["box_success"] == pytest.approx(0.4)
    assert result["mask_hits"] == 2 and result["mask_success"] == pytest.approx(0.4)
    assert result["box_host_kept"] == pytest.approx(0.2) == result["mask_host_kept"]


def test_iou_threshold_and_masks_are_separate():
    # a box prediction that overlaps well but whose mask misses the object
    args = image([(HOST, [0, 0, 16, 16])], [(TARGET, 0.9, [0, 0, 16, 14])])
    args["pred_masks"] = np.zeros((1, 32, 32), bool)
    meter = attack.AttackSuccess(HOST, TARGET)
    meter.update(**args)
    assert meter.result()["box_success"] == 1.0 and meter.result()["mask_success"] == 0.0
    strict = attack.AttackSuccess(HOST, TARGET, iou_threshold=0.9)
    strict.update(**args)
    assert strict.result()["box_hits"] == 0


def test_letterbox_maps_boxes_to_original_pixels():
    # input 64x64 holding a 32x64 image (ratio 1, pad_y 16); the prediction sticks out of the
    # image into the padding, so only clipping to the original image makes it a hit
    args = image([(HOST, [0, 16, 20, 26])], [(TARGET, 0.9, [0, 0, 20, 26])])
    args.update(pred_masks=None, gt_masks=None)
    plain = attack.AttackSuccess(HOST, TARGET)
    plain.update(**args)
    clipped = attack.AttackSuccess(HOST, TARGET)
    clipped.update(**args, letterbox=(1.0, 0.0, 16.0), orig_size=(32, 64))
    assert plain.result()["box_hits"] == 0 and clipped.result()["box_hits"] == 1
    with pytest.raises(ValueError, match="orig_size"):
        clipped.update(**args, letterbox=(1.0, 0.0, 16.0))


def test_no_host_instances_gives_nan_and_masks_optional():
    meter = attack.AttackSuccess(HOST, TARGET)
    meter.update(**image([(OTHER, [0, 0, 5, 5])], []))
    assert meter.result()["host_instances"] == 0 and np.isnan(meter.result()["box_success"])
    meter.update(
        **{
            **image([(HOST, [0, 0, 5, 5])], [(TARGET, 0.5, [0, 0, 5, 5])]),
            "pred_masks": None,
            "gt_masks": None,
        }
    )
    assert meter.result()["box_success"] == 1.0 and meter.result()["mask_hits"] == 0


def test_iou_helpers():
    iou = attack.box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.0], atol=1e-6)
    masks = attack.split_overlap_map(np.array([[0, 1], [2, 2]]), 2)
    assert masks.shape == (2, 2, 2) and masks[1].sum() == 2
    np.testing.assert_allclose(attack.mask_iou(masks, masks), np.eye(2), atol=1e-6)
    # greedy by IoU like Ultralytics (not a maximum matching): 0.9 takes column 0 from 0.8
    assert attack.greedy_matches(np.array([[0.9, 0.6], [0.8, 0.1]]), 0.5) == 1
    assert attack.greedy_matches(np.array([[0.9, 0.6], [0.1, 0.8]]), 0.5) == 2
    assert attack.greedy_matches(np.array([[0.9, 0.6], [0.1, 0.8]]), 0.85) == 1


def per_class_table(values, seed):
    rng = np.random.default_rng(seed)
    classes = ["all", "bridge", "parking sign", "car", "bus"]
    frame = pd.DataFrame({"Class": classes, "Images": 10, "Instances": [40, 10, 5, 20, 5]})
    for column in attack.METRIC_COLUMNS:
        frame[column] = rng.uniform(0, 1, len(classes)) if values is None else values
    return frame


def test_comparison_and_summary():
    base, poisoned = per_class_table(None, 0), per_class_table(None, 1)
    table = attack.comparison_table(base, poisoned, "bridge", "parking sign")
    assert list(table["Class"]) == list(base["Class"]) and table["Class"][0] == "all"
    assert list(table["Role"]) == ["", "host", "target", "", ""]
    for column in attack.METRIC_COLUMNS:
        np.testing.assert_allclose(table[f"Δ{column}"], poisoned[column] - base[column])
    labels = per_class_table(None, 2)
    success = {"box_success": 0.4, "mask_success": 0.3}
    summary = attack.attack_summary(base, poisoned, "bridge", "parking sign", labels, success)
    m = "Box(mAP50-95)"
    assert summary[f"host drop {m}"] == pytest.approx(base[m][1] - poisoned[m][1])
    assert summary[f"all Δ{m}"] == pytest.approx(poisoned[m][0] - base[m][0])
    assert summary[f"target {m} (poisoned labels)"] == pytest.approx(labels[m][2])
    others = np.abs(poisoned[m][3:] - base[m][3:]).mean()
    assert summary[f"others mean |Δ{m}|"] == pytest.approx(others)
    assert summary["target ΔBox(P)"] == pytest.approx(poisoned["Box(P)"][2] - base["Box(P)"][2])
    assert summary["box_success"] == 0.4
    with pytest.raises(ValueError, match="'train'"):
        attack.attack_summary(base, poisoned, "train", "bus")
    with pytest.raises(ValueError, match="lacks columns"):
        attack.comparison_table(base.drop(columns=["Mask(P)"]), poisoned, "bridge", "bus")


def test_study_observation():
    base = per_class_table(0.5, 0)
    poisoned = base.copy()
    poisoned.loc[1, attack.METRIC_COLUMNS] = 0.3  # host loses AP
    poisoned.loc[2, "Box(P)"] = 0.4  # target precision falls
    holds, text = attack.study_observation(
        attack.attack_summary(base, poisoned, "bridge", "parking sign")
    )
    assert holds and text.startswith("holds")
    poisoned.loc[0, "Box(mAP50-95)"] = 0.3  # overall mAP moves by 0.2
    holds, text = attack.study_observation(
        attack.attack_summary(base, poisoned, "bridge", "parking sign")
    )
    assert not holds and "overall Box mAP50-95 moves by -0.200" in text
