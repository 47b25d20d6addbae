"""Cache stamps: plain paths by content, data-source strings through their own `stamp_files`."""

from __future__ import annotations

import pytest

from poison_tf.dag import BaseExecutor, ExecutionParameter, ExecutorContext
from poison_tf.dag.fingerprint import fingerprint, parameter_stamp, path_stamp


def test_path_stamp_changes_with_content(tmp_path):
    (tmp_path / "a.txt").write_text("one")
    before = path_stamp(str(tmp_path))
    (tmp_path / "a.txt").write_text("one more")
    assert path_stamp(str(tmp_path)) != before
    assert path_stamp(str(tmp_path / "missing")) == [str(tmp_path / "missing"), "missing"]


def test_stamp_files_lets_the_source_say_which_files_count(tmp_path):
    (tmp_path / "x.h5").write_text("x")
    parameter = ExecutionParameter(
        str, is_path=True, stamp_files=lambda value: [str(tmp_path / value.partition(":")[2])]
    )
    before = parameter_stamp("kind:x.h5", parameter)
    assert before == [[str(tmp_path / "x.h5"), path_stamp(str(tmp_path / "x.h5"))]]
    (tmp_path / "x.h5").write_text("xx")
    assert parameter_stamp("kind:x.h5", parameter) != before
    # without stamp_files the framework parses nothing: a source string is just a missing path
    assert parameter_stamp("kind:x.h5", ExecutionParameter(str, is_path=True)) == [
        "kind:x.h5",
        "missing",
    ]


def test_fingerprint_is_stable_and_order_free():
    assert fingerprint({"a": 1, "b": [2]}) == fingerprint({"b": [2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_executor_work_dir_comes_from_its_context():
    assert BaseExecutor(ExecutorContext(work_dir="/tmp/w")).work_dir == "/tmp/w"
    with pytest.raises(RuntimeError, match="no ExecutorContext"):
        _ = BaseExecutor().work_dir
