"""Outputs whose parent is a file are refused in one line, and nothing is left behind."""

from __future__ import annotations

import os

import pytest

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_dir, atomic_file


def test_output_file_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        with atomic_file(str(tmp_path / "f" / "out.csv")) as handle:
            handle.write("never")
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="exists and is not a folder"):
        with atomic_dir(str(tmp_path / "f")):
            pass
    assert sorted(os.listdir(tmp_path)) == ["f"] and (tmp_path / "f").read_text() == "x"


def test_output_file_that_is_a_folder(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(UserInputError, match="is a directory"):
        with atomic_file(str(tmp_path / "d")):
            pass
