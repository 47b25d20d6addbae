"""The `imagelist:` source: Caffe-style `<path>, <class id>` lists, names from synset_words.txt."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from poison_tf.data.image_list import class_names, load_image_list, load_image_list_source
from poison_tf.errors import UserInputError


def _write(folder, lines: list[str], synsets: list[str] | None = None):
    (folder / "data").mkdir(exist_ok=True)
    for index in range(3):
        pixels = np.full((10, 12, 3), 40 * index, np.uint8)
        PIL.Image.fromarray(pixels).save(folder / "data" / f"{index}.png")
    (folder / "dataset.txt").write_text("\n".join(lines) + "\n")
    if synsets:
        (folder / "synset_words.txt").write_text("\n".join(synsets) + "\n")


def test_list_is_read_resized_and_named(tmp_path):
    _write(
        tmp_path,
        ["./data/0.png, 2", "./data/1.png, 0", "", "./data/2.png 1"],
        ["n01 tench, Tinca tinca", "n02 goldfish", "n03 great white shark, white shark"],
    )
    (images, labels), test, names = load_image_list_source(str(tmp_path), 8)
    assert test is None and images.shape == (3, 8, 8, 3) and images.dtype == np.uint8
    assert labels.tolist() == [2, 0, 1]
    assert images[1].max() == 40 and names == ["tench", "goldfish", "great white shark"]


def test_seeded_subset_and_fallback_names(tmp_path):
    _write(tmp_path, ["./data/0.png, 0", "./data/1.png, 1", "./data/2.png, 1"])
    _, first = load_image_list(str(tmp_path / "dataset.txt"), 4, limit=2, seed=3)
    _, again = load_image_list(str(tmp_path / "dataset.txt"), 4, limit=2, seed=3)
    assert len(first) == 2 and first.tolist() == again.tolist()
    assert class_names(str(tmp_path), 2) == ["0", "1"]


@pytest.mark.parametrize(
    "lines, message",
    [
        (["./data/0.png"], "expected '<image path>, <class id>'"),
        (["./data/0.png, cat"], "expected '<image path>, <class id>'"),
        (["./data/missing.png, 0"], "missing or not a readable image"),
        ([""], "lists no images"),
    ],
)
def test_bad_lists_are_user_errors(tmp_path, lines, message):
    _write(tmp_path, lines)
    with pytest.raises(UserInputError, match=message):
        load_image_list(str(tmp_path), 8)
