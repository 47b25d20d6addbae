"""poison_tf.io.safe_read: each class of bad file the loaders share ends in one UserInputError."""

from __future__ import annotations

import contextlib
import os
import signal

import numpy as np
import pytest

from poison_tf.errors import UserInputError
from poison_tf.io import safe_read


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raises TimeoutError in the block after `seconds` (a hang fails the test, not CI)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_directory_where_a_file_is_expected(tmp_path):
    with pytest.raises(UserInputError, match="is a directory"):
        safe_read.check_input_file(str(tmp_path), "data file")


def test_dangling_symlink(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "link")
    with pytest.raises(UserInputError, match="dangling symbolic link"):
        safe_read.check_input_file(str(tmp_path / "link"), "model file")


def test_permission_denied_without_root(tmp_path, monkeypatch):
    """Tests run as root, which reads any file; the open is replaced by one that is refused,
    which is what a non-root user gets (the real chmod case runs when not root)."""
    path = tmp_path / "x.h5"
    path.write_text("x")

    def refuse(_path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(safe_read, "_probe_open", refuse)
    with pytest.raises(UserInputError, match="permission denied"):
        safe_read.check_input_file(str(path), "data file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod-0 file")
def test_permission_denied_for_real(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(UserInputError, match="permission denied"):
        safe_read.check_input_file(str(path), "data file")


def test_text_that_is_not_utf8(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"ok\n\xff\xfe")
    with pytest.raises(UserInputError, match="not UTF-8 text.*offset 3"):
        safe_read.read_text(str(tmp_path / "a.txt"), "label file")


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deeply_nested_json(depth):
    with pytest.raises(UserInputError, match="nested"):
        safe_read.parse_json("[" * depth + "]" * depth, "x.json")


def test_json_refuses_nan_and_accepts_ordinary_nesting():
    with pytest.raises(UserInputError, match="NaN"):
        safe_read.parse_json('{"a": NaN}', "x.json")
    assert safe_read.parse_json('{"a": [[1, 2], {"b": 3}]}', "x.json") == {"a": [[1, 2], {"b": 3}]}


def test_yaml_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with time_limit(20):  # a regression would walk 9^9 nodes; fail instead of hanging CI
        with pytest.raises(UserInputError, match="aliases"):
            safe_read.parse_yaml(bomb, "data.yaml")


def test_yaml_without_aliases_still_loads():
    assert safe_read.parse_yaml("names: [a, b]\nx: {0: c}\n", "d.yaml") == {
        "names": ["a", "b"],
        "x": {0: "c"},
    }


def test_yaml_deep_nesting():
    with pytest.raises(UserInputError, match="nested"):
        safe_read.parse_yaml("a: " + "[" * 5000 + "]" * 5000, "d.yaml")


def test_output_path_whose_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        safe_read.check_output_path(str(tmp_path / "f" / "sub" / "out.csv"))
    with pytest.raises(UserInputError, match="is a directory"):
        safe_read.check_output_path(str(tmp_path))
    with pytest.raises(UserInputError, match="not a folder"):
        safe_read.check_output_dir(str(tmp_path / "f"))
    assert safe_read.check_output_path(str(tmp_path / "new" / "out.csv"))


def test_walk_refuses_symlink_loops_and_dangling_links(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.png").write_bytes(b"")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    with time_limit(20):
        with pytest.raises(UserInputError, match="symbolic link loop"):
            list(safe_read.walk_files(str(tmp_path / "a")))
    os.remove(tmp_path / "a" / "b" / "loop")
    os.symlink(tmp_path / "gone.png", tmp_path / "a" / "y.png")
    with pytest.raises(UserInputError, match="dangling symbolic link"):
        list(safe_read.walk_files(str(tmp_path / "a")))


def test_walk_follows_a_symlinked_folder_once(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.png").write_bytes(b"")
    (tmp_path / "tree").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "tree" / "linked")
    assert list(safe_read.walk_files(str(tmp_path / "tree"), (".png",))) == [
        str(tmp_path / "tree" / "linked" / "x.png")
    ]


def test_require_finite():
    with pytest.raises(UserInputError, match="1 value"):
        safe_read.require_finite(np.array([1.0, np.nan]), "w")
    with pytest.raises(UserInputError, match="not a finite number"):
        safe_read.require_finite_number(float("inf"), "--learning_rate")
    with pytest.raises(UserInputError, match="expected a number"):
        safe_read.require_finite_number("1", "threshold")
