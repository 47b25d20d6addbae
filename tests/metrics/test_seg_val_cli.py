"""`poison-tf-seg-val --predictions`: the table on a tiny YOLO-seg folder made here, masks or boxes
only, both AP sentinels, and exit status 2 with one `error:` line for each kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_runner import run_program
from PIL import Image
from shared_data import shared_path

from poison_tf import seg_val
from poison_tf.data.coco_results import ImagePredictions, image_id_from_stem, write_coco_results
from poison_tf.data.yolo_seg import load_split
from poison_tf.metrics.seg_validation import COLUMNS, HEADER

NAMES = ["car", "person", "bus"]
LABELS = {
    "000000000001": [
        "0 0.1 0.1 0.4 0.1 0.4 0.5 0.1 0.5",
        "1 0.6 0.2 0.9 0.2 0.75 0.9",
    ],
    "000000000002": ["0 0.2 0.3 0.7 0.3 0.7 0.8 0.2 0.8", "0 0.75 0.1 0.95 0.1 0.95 0.3"],
    "scene_3": [],  # background image
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("tiny_seg")
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    for stem, lines in LABELS.items():
        Image.new("RGB", (60, 40), (90, 90, 90)).save(root / "images" / "val" / f"{stem}.png")
        (root / "labels" / "val" / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
    Image.new("RGB", (60, 40)).save(root / "images" / "train" / "a.png")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: [car, person, bus]\n"
    )
    return str(root / "data.yaml")


def _perfect_results(data_yaml: str, path: str, with_masks: bool = True, keep=None) -> str:
    names, samples = load_split(data_yaml, "val")
    predictions = []
    for sample in samples:
        boxes, masks = seg_val.ground_truth(sample, with_masks=True)
        index = np.arange(len(boxes)) if keep is None else np.arange(len(boxes))[keep(sample)]
        predictions.append(
            ImagePredictions(
                image_id_from_stem(sample.stem), boxes[index], 0.9 - 0.1 * index,
                sample.classes[index], masks[index] if with_masks else None,
            )
        )  # fmt: skip
    write_coco_results(path, predictions, names)
    return path


def run_seg_val(argv: list[str]) -> int:
    return run_program(seg_val.main, "poison-tf-seg-val", argv)


def test_perfect_predictions_with_masks(dataset, tmp_path, capsys):
    results = _perfect_results(dataset, str(tmp_path / "results.json"))
    out = tmp_path / "table.csv"
    assert run_seg_val([f"--data={dataset}", f"--predictions={results}", f"--output={out}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == HEADER and lines[1].split()[:3] == ["all", "3", "4"]
    assert [line.split()[0] for line in lines[2:]] == ["car", "person"]  # bus has no GT
    table = pd.read_csv(out)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["Images"]) == [3, 2, 1] and list(table["Instances"]) == [4, 3, 1]
    np.testing.assert_allclose(table[["Box(mAP50)", "Mask(mAP50-95)"]], 0.995)


def test_boxes_only_leaves_mask_columns_empty_and_sentinels_matter(dataset, tmp_path):
    # keep only the first instance of each image: recall 2 / 3 for car, so the curve ends early
    results = _perfect_results(
        dataset, str(tmp_path / "boxes.json"), with_masks=False, keep=lambda s: slice(0, 1)
    )
    tables = {}
    for sentinels in ("8.3", "8.4"):
        out = tmp_path / f"{sentinels}.csv"
        argv = [f"--data={dataset}", f"--predictions={results}", f"--output={out}"]
        assert run_seg_val([*argv, f"--ap_sentinels={sentinels}"]) == 0
        tables[sentinels] = pd.read_csv(out).set_index("Class")
    assert tables["8.3"].filter(like="Mask").isna().all().all()
    car_83, car_84 = tables["8.3"].loc["car"], tables["8.4"].loc["car"]
    assert car_83["Box(R)"] == pytest.approx(2 / 3, abs=1e-3)
    # 8.3 draws a line from (2/3, 1) to (1, 0); 8.4 drops to 0 right after recall 2/3
    assert car_84["Box(mAP50)"] == pytest.approx(0.665, abs=1e-9)  # 0.01 * (66 + 1/2)
    assert car_83["Box(mAP50)"] > car_84["Box(mAP50)"] + 0.1


def _write(tmp_path, entries) -> str:
    path = tmp_path / "results.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return str(path)


GOOD = {"image_id": 1, "category_id": 0, "bbox": [6, 4, 18, 16], "score": 0.9}


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "predictions file not found"),
        ("{bad json", "not valid JSON"),
        ([{**GOOD, "image_id": 99}], "entry 0: unknown image_id 99"),
        ([GOOD, {**GOOD, "category_id": 3}], "entry 1: category_id 3 out of range"),
        ("neither", "give exactly one of --predictions"),
        ("weights", "model.keras: no such file"),
        ("no_data", "data.yaml not found"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(dataset, tmp_path, capsys, case, message):
    data = dataset if case != "no_data" else str(tmp_path / "nope.yaml")
    argv = [f"--data={data}"]
    if case == "missing":
        argv.append(f"--predictions={tmp_path / 'absent.json'}")
    elif case == "weights":
        argv.append(f"--weights={tmp_path / 'model.keras'}")
    elif case != "neither":
        argv.append(f"--predictions={_write(tmp_path, case if case != 'no_data' else [GOOD])}")
    out = tmp_path / "table.csv"
    assert run_seg_val([*argv, f"--output={out}"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not out.exists()


@pytest.mark.real_data
def test_coco8_seg_val_perfect_and_shifted_predictions(tmp_path, capsys):
    data = str(shared_path("datasets", "coco8-seg", "data.yaml"))
    results = _perfect_results(data, str(tmp_path / "perfect.json"))
    out = tmp_path / "perfect.csv"
    assert run_seg_val([f"--data={data}", f"--predictions={results}", f"--output={out}"]) == 0
    perfect = pd.read_csv(out).set_index("Class")
    assert perfect.loc["all", "Images"] == 4 and perfect.loc["all", "Instances"] == 17
    np.testing.assert_allclose(perfect.filter(like="mAP"), 0.995)
    # shift every detection right by 8 % of the image width: masks and boxes both lose IoU
    entries = json.loads(open(results).read())
    for entry in entries:
        entry["bbox"][0] += 0.08 * 640
        del entry["segmentation"]
    shifted = _write(tmp_path, entries)
    assert run_seg_val([f"--data={data}", f"--predictions={shifted}", f"--output={out}"]) == 0
    row = pd.read_csv(out).set_index("Class").loc["all"]
    assert 0 < row["Box(mAP50-95)"] < 0.9 and np.isnan(row["Mask(mAP50)"])


@pytest.mark.slow
def test_weights_runs_the_segmenter_like_val(dataset, tmp_path, capsys):
    """--weights letterboxes the split to the model's input, predicts and prints the table."""
    from poison_tf.data.yolo_seg import load_split
    from poison_tf.models.yolo_v8_seg import build_yolo_v8_seg

    names, samples = load_split(dataset, "val")
    model_path = tmp_path / "model.keras"
    build_yolo_v8_seg(len(names), 64, "tiny").save(model_path)
    out = tmp_path / "table.csv"
    assert run_seg_val([f"--data={dataset}", f"--weights={model_path}", f"--output={out}"]) == 0
    table = pd.read_csv(out)
    assert table.iloc[0]["Class"] == "all" and table.iloc[0]["Images"] == len(samples)
    assert table.iloc[0]["Instances"] == sum(len(s.classes) for s in samples)
    assert "Mask(P" in capsys.readouterr().out
