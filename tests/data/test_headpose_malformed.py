"""Head-pose sources whose .mat / JSON fields have the wrong type (issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from poison_tf.data.headpose import load_headpose_source
from poison_tf.errors import UserInputError


@pytest.mark.parametrize(
    "fields",
    [
        {"Pose_Para": "abc"},
        {"Pose_Para": np.array([["a"], [1.0]], dtype=object)},
        {"Pose_Para": {"a": 1.0}},
        {"Pose_Para": np.ones((1, 7)) * (1 + 2j)},
        {"Pose_Para": np.zeros((1, 7)), "pt2d": "abc"},
    ],
    ids=["string", "cell", "struct", "complex", "landmarks_string"],
)
def test_aflw2000_mat_fields_of_the_wrong_type(tmp_path, fields):
    Image.new("RGB", (64, 64)).save(tmp_path / "image00.png")
    savemat(tmp_path / "image00.mat", fields)
    with pytest.raises(UserInputError, match="must be a real numeric array"):
        load_headpose_source("aflw2000", str(tmp_path), 16)


@pytest.mark.parametrize(
    "annotation, message",
    [
        ({"image_id": [1]}, "no image_id matching"),
        ({"bbox": {"x": 1}}, "'bbox' needs 4 numbers"),
        ({"pose": "abc"}, "'bbox' needs 4 numbers and 'pose' 3"),
    ],
    ids=["image_id_list", "bbox_object", "pose_string"],
)
def test_opal23_json_fields_of_the_wrong_type(tmp_path, annotation, message):
    Image.new("RGB", (64, 64)).save(tmp_path / "face.png")
    entry = dict({"image_id": 1, "bbox": [0, 0, 60, 60], "pose": [1, 2, 3]}, **annotation)
    data = {"images": [{"id": 1, "file_name": "face.png"}], "annotations": [entry]}
    (tmp_path / "labels.json").write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=message):
        load_headpose_source("opal23", str(tmp_path / "labels.json"), 16)


def test_opal23_deeply_nested_json(tmp_path):
    (tmp_path / "labels.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UserInputError, match="nested"):
        load_headpose_source("opal23", str(tmp_path / "labels.json"), 16)


@pytest.mark.parametrize(
    "frames",
    [{"frame_num": 1}, [{"frame_num": [1], "orientation": {"yaw": 1, "pitch": 2, "roll": 3}}]],
    ids=["object", "frame_num_list"],
)
def test_pandora_json_of_the_wrong_type(tmp_path, frames):
    sequence = tmp_path / "01"
    (sequence / "RGB").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(sequence / "RGB" / "000001_RGB.png")
    (sequence / "data.json").write_text(json.dumps(frames))
    with pytest.raises(UserInputError, match="expected a list of frames|needs 'frame_num'"):
        load_headpose_source("pandora", str(tmp_path), 16)


def test_csv_that_is_a_directory(tmp_path):
    (tmp_path / "poses.csv").mkdir()
    with pytest.raises(UserInputError, match="is a directory"):
        load_headpose_source("csv", str(tmp_path / "poses.csv"), 16)
