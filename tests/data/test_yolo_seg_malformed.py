"""YOLO-seg folders with malformed YAML, label files or image trees (issue 18)."""

from __future__ import annotations

import os
import signal

import pytest
from PIL import Image

from poison_tf.data.yolo_seg import load_split, read_data_yaml
from poison_tf.errors import UserInputError

SPLITS = "path: .\ntrain: images/train\nval: images/val\n"


@pytest.fixture
def folder(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        Image.new("RGB", (32, 24)).save(tmp_path / "images" / split / "a.png")
        (tmp_path / "labels" / split / "a.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    (tmp_path / "data.yaml").write_text(SPLITS + "names: [car, bus]\n")
    return tmp_path


@pytest.fixture
def alarm():
    """Fails a test that would hang (an alias bomb, a symlink loop) instead of stalling CI."""

    def expire(signum, frame):
        raise TimeoutError("still running after 30 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_alias_bomb_is_refused(folder, alarm):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    (folder / "data.yaml").write_text(bomb + SPLITS + "names: *i\n")
    with pytest.raises(UserInputError, match="aliases"):
        read_data_yaml(str(folder / "data.yaml"))


@pytest.mark.parametrize(
    "names", ["{0: car, '1': bus}", "{'0': car, '1': bus}", "[[car], bus]"], ids=str
)
def test_names_with_mixed_keys_or_nested_values(folder, names):
    (folder / "data.yaml").write_text(SPLITS + f"names: {names}\n")
    with pytest.raises(UserInputError, match="'names' keys must be|class name must be text"):
        read_data_yaml(str(folder / "data.yaml"))


def test_yaml_that_is_not_utf8(folder):
    (folder / "data.yaml").write_bytes(SPLITS.encode() + b"names: [\xff]\n")
    with pytest.raises(UserInputError, match="not UTF-8"):
        read_data_yaml(str(folder / "data.yaml"))


def test_label_file_that_is_not_utf8(folder):
    (folder / "labels/val/a.txt").write_bytes(b"0 0.1 0.1\xff 0.5 0.1 0.5 0.5\n")
    with pytest.raises(UserInputError, match="label file .*a.txt: not UTF-8"):
        load_split(str(folder / "data.yaml"), "val")


def test_label_file_that_is_a_directory(folder):
    (folder / "labels/val/a.txt").unlink()
    (folder / "labels/val/a.txt").mkdir()
    with pytest.raises(UserInputError, match="is a directory"):
        load_split(str(folder / "data.yaml"), "val")


def test_dangling_symlink_in_the_image_tree(folder):
    os.symlink(folder / "gone.png", folder / "images/val/b.png")
    with pytest.raises(UserInputError, match="dangling symbolic link"):
        load_split(str(folder / "data.yaml"), "val")


def test_symlink_loop_under_the_image_folder(folder, alarm):
    os.symlink(folder / "images", folder / "images/val/loop")
    with pytest.raises(UserInputError, match="symbolic link loop"):
        load_split(str(folder / "data.yaml"), "val")


def test_a_symlinked_image_folder_still_loads(folder, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    Image.new("RGB", (32, 24)).save(elsewhere / "c.png")
    os.symlink(elsewhere, folder / "images/val/more")
    names, samples = load_split(str(folder / "data.yaml"), "val")
    assert names == ["car", "bus"] and sorted(s.stem for s in samples) == ["a", "c"]
