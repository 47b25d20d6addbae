"""YOLO-seg reader: data.yaml forms, label-path mapping, parsing, skipped images, coco8-seg."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from shared_data import shared_path

from poison_tf.data.yolo_seg import label_path, load_split, parse_label_file, read_data_yaml

TRIANGLE = "0.1 0.1 0.9 0.1 0.5 0.8"


def _image(path, size=(24, 32)) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(path)


def _label(path, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_label_path_replaces_the_last_images_folder():
    assert label_path("/d/images/x/images/train/a.b.jpg") == "/d/images/x/labels/train/a.b.txt"


def test_dict_names_path_key_and_txt_lists(tmp_path):
    root = tmp_path / "set"
    for name in ("a", "b", "c"):
        _image(str(root / "images" / "train" / f"{name}.png"))
    _label(str(root / "labels" / "train" / "a.txt"), f"1 {TRIANGLE}\n\n2 {TRIANGLE} 0.2 0.9\n")
    _label(str(root / "labels" / "train" / "b.txt"), "")
    (root / "val.txt").write_text("images/train/c.png\n")
    (tmp_path / "data.yaml").write_text(
        "path: set\ntrain: images/train\nval: val.txt\nnames:\n  0: car\n  1: bus\n  2: person\n"
    )
    config = read_data_yaml(str(tmp_path / "data.yaml"))
    assert config.names == ["car", "bus", "person"] and config.root == str(root)
    names, train = load_split(str(tmp_path / "data.yaml"), "train")
    assert [s.stem for s in train] == ["a", "b", "c"]
    first = train[0]
    assert (first.height, first.width) == (24, 32)
    assert first.classes.tolist() == [1, 2] and first.lines.tolist() == [1, 3]
    assert first.polygons[1].shape == (4, 2) and first.polygons[0].dtype == np.float32
    assert train[1].num_instances == 0 and train[2].num_instances == 0  # empty and missing label
    _, val = load_split(str(tmp_path / "data.yaml"), "val")
    assert [s.stem for s in val] == ["c"]


def test_coordinates_within_tolerance_are_clipped(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("0 -0.0000005 0 1.0000009 0 0.5 1\n")
    _, polygons, _ = parse_label_file(str(path), 1)
    assert polygons[0].min() == 0.0 and polygons[0].max() == 1.0


def test_undecodable_images_are_skipped_and_counted(tmp_path, caplog):
    _image(str(tmp_path / "images" / "train" / "good.png"))
    (tmp_path / "images" / "train" / "bad.jpg").write_bytes(b"not a jpeg")
    _image(str(tmp_path / "images" / "train" / "tiny.png"), size=(5, 5))
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    from absl import logging as absl_logging

    absl_logging.get_absl_handler()  # make sure absl logs reach the root logger
    with caplog.at_level("WARNING"):
        _, samples = load_split(str(tmp_path / "data.yaml"), "train")
    assert [s.stem for s in samples] == ["good"]
    assert "skipped 2 image(s)" in caplog.text and "bad.jpg" in caplog.text


@pytest.mark.real_data
@pytest.mark.parametrize("split", ["train", "val"])
def test_coco8_seg_counts_match_label_files(split):
    root = shared_path("datasets", "coco8-seg")
    names, samples = load_split(str(root / "data.yaml"), split)
    assert len(names) == 80 and len(samples) == 4
    for sample in samples:
        with open(root / "labels" / split / f"{sample.stem}.txt") as handle:
            lines = [line.split() for line in handle if line.strip()]
        assert sample.num_instances == len(lines)
        assert sample.classes.tolist() == [int(line[0]) for line in lines]
        assert [len(p) for p in sample.polygons] == [(len(line) - 1) // 2 for line in lines]
        with Image.open(sample.image_path) as image:
            assert (sample.width, sample.height) == image.size
