"""Every bad YOLO-seg input ends in a UserInputError naming the file (and line) and the problem."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from poison_tf.data.yolo_seg import load_split, parse_label_file, read_data_yaml
from poison_tf.errors import UserInputError


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 0.1 0.1 0.9 0.1 0.5", "odd number of coordinates"),
        ("0 0.1 0.1 0.9 0.1", "at least 3 points"),
        ("0 0.1 0.1 0.9 0.1 0.5 1.2", "normalised to [0, 1]"),
        ("0 -0.01 0.1 0.9 0.1 0.5 0.5", "normalised to [0, 1]"),
        ("5 0.1 0.1 0.9 0.1 0.5 0.5", "class 5 is not in names"),
        ("-1 0.1 0.1 0.9 0.1 0.5 0.5", "class -1 is not in names"),
        ("car 0.1 0.1 0.9 0.1 0.5 0.5", "not an integer"),
        ("0 0.1 0.1 0.9 x 0.5 0.5", "non-numeric"),
        ("0 0.1 0.1 0.9 nan 0.5 0.5", "NaN"),
    ],
)
def test_bad_label_line_names_file_and_line(tmp_path, line, problem):
    path = tmp_path / "img.txt"
    path.write_text(f"1 0.1 0.1 0.9 0.1 0.5 0.5\n\n{line}\n")
    with pytest.raises(UserInputError) as error:
        parse_label_file(str(path), 3)
    assert f"{path}:3:" in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("train: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "not a YAML mapping"),
        ("train: images\nval: images\n", "missing key(s) ['names']"),
        ("names: [a]\ntrain: images\n", "missing key(s) ['val']"),
        ("names: [a]\ntrain: images\nval: nowhere\n", "nowhere does not exist"),
        ("names: {0: a, 2: b}\ntrain: images\nval: images\n", "0..n-1"),
        ("names: 7\ntrain: images\nval: images\n", "'names' must be"),
    ],
)
def test_bad_data_yaml(tmp_path, text, problem):
    os.makedirs(tmp_path / "images")
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(UserInputError) as error:
        read_data_yaml(str(tmp_path / "data.yaml"))
    assert str(tmp_path / "data.yaml") in str(error.value) and problem in str(error.value)


def test_missing_data_yaml(tmp_path):
    with pytest.raises(UserInputError, match="data.yaml not found"):
        read_data_yaml(str(tmp_path / "data.yaml"))


def test_no_usable_image_is_an_error(tmp_path):
    os.makedirs(tmp_path / "images")
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images\nval: images\n")
    with pytest.raises(UserInputError, match="none of its 1 images could be decoded"):
        load_split(str(tmp_path / "data.yaml"), "train")


def test_empty_split_and_missing_listed_image(tmp_path):
    os.makedirs(tmp_path / "images")
    (tmp_path / "list.txt").write_text("images/a.png\n")
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images\nval: list.txt\n")
    with pytest.raises(UserInputError, match="has no images"):
        load_split(str(tmp_path / "data.yaml"), "train")
    with pytest.raises(UserInputError, match=r"list.txt:1: image .*a.png does not exist"):
        load_split(str(tmp_path / "data.yaml"), "val")


def test_label_error_surfaces_through_load_split(tmp_path):
    os.makedirs(tmp_path / "images")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    os.makedirs(tmp_path / "labels")
    (tmp_path / "labels" / "a.txt").write_text("0 0.1 0.1 0.2 0.2 0.3 1.5\n")
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images\nval: images\n")
    with pytest.raises(UserInputError, match=r"labels/a.txt:1: coordinates must be normalised"):
        load_split(str(tmp_path / "data.yaml"), "train")
