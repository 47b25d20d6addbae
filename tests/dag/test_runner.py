"""The local DAG runner: order, cache, atomic outputs after a crash, lineage, list inputs."""

from __future__ import annotations

import json
import os

import pytest
from ray_components import Number, Sum

from poison_tf.dag import LocalDagRunner, Pipeline
from poison_tf.errors import UserInputError


def _calls(marker) -> list[str]:
    """What executed, in order, from the components' marker file (then emptied)."""
    if not os.path.exists(marker):
        return []
    calls = [line.split()[0] for line in open(marker)]
    os.remove(marker)
    return calls


def _pipeline(root, crash=False, path=""):
    """Sum(Number a=2, Number b=3) under `root`; the executors mark `root`.calls."""
    marker = f"{root}.calls"
    a, b = Number("a", value=2, marker=marker), Number("b", value=3, crash=crash, marker=marker)
    total = Sum(numbers=[a.outputs["number"], b.outputs["number"]], path=path, marker=marker)
    return Pipeline("test", [total, a, b], str(root)), total  # order given out of order on purpose


def test_runs_in_topological_order_and_caches(tmp_path):
    pipeline, total = _pipeline(tmp_path / "root")
    out = LocalDagRunner().run(pipeline)
    assert _calls(tmp_path / "root.calls") == ["number2", "number3", "sum"]
    assert open(out[total.id]["total"].path("value.txt")).read() == "5"
    LocalDagRunner().run(_pipeline(tmp_path / "root")[0])
    assert _calls(tmp_path / "root.calls") == []
    log = [json.loads(line) for line in open(tmp_path / "root" / "executions.jsonl")]
    assert [entry["cached"] for entry in log] == [False] * 3 + [True] * 3


def test_crash_leaves_no_artefact_and_rerun_resumes(tmp_path):
    with pytest.raises(RuntimeError):
        LocalDagRunner().run(_pipeline(tmp_path / "root", crash=True)[0])
    b_home = tmp_path / "root" / "Number.b"
    assert [p for p in os.listdir(b_home) if not p.startswith(".work")] == []  # no half output
    _calls(tmp_path / "root.calls")
    LocalDagRunner().run(_pipeline(tmp_path / "root")[0])
    assert _calls(tmp_path / "root.calls") == ["number3", "sum"]  # Number.a came from the cache


def test_lineage_record(tmp_path):
    pipeline, total = _pipeline(tmp_path / "root")
    out = LocalDagRunner().run(pipeline)
    folder = os.path.dirname(out[total.id]["total"].uri)
    record = json.load(open(os.path.join(folder, "execution.json")))
    assert record["component"] == "Sum" and len(record["inputs"]["numbers"]) == 2
    assert record["outputs"]["total"]["uri"] == out[total.id]["total"].uri


def test_path_parameters_invalidate_the_cache(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("one")
    LocalDagRunner().run(_pipeline(tmp_path / "root", path=str(data))[0])
    _calls(tmp_path / "root.calls")
    data.write_text("two, longer")
    LocalDagRunner().run(_pipeline(tmp_path / "root", path=str(data))[0])
    assert _calls(tmp_path / "root.calls") == ["sum"]


def test_parameter_errors():
    with pytest.raises(UserInputError, match="parameter 'value' must be int"):
        Number(value="x")
    with pytest.raises(UserInputError, match="parameter 'value' is required"):
        Number()
    with pytest.raises(UserInputError, match="unknown parameter"):
        Number(value=1, colour="red")


def test_standalone_run_on_uris(tmp_path):
    out = Number.run_standalone({}, {"value": 4}, str(tmp_path / "a"))
    total = Sum.run_standalone(
        {"numbers": [out["number"].uri, out["number"].uri]}, {}, str(tmp_path / "b")
    )
    assert open(total["total"].path("value.txt")).read() == "8"
