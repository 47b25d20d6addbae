"""The local DAG runner: order, cache, atomic outputs after a crash, lineage, list inputs."""

from __future__ import annotations

import json
import os

import pytest

from poison_tf.dag import (
    BaseComponent,
    BaseExecutor,
    ChannelParameter,
    ComponentSpec,
    ExecutionParameter,
    LocalDagRunner,
    Pipeline,
)
from poison_tf.errors import UserInputError

CALLS: list[str] = []


class NumberSpec(ComponentSpec):
    OUTPUTS = {"number": ChannelParameter("Number")}
    PARAMETERS = {
        "value": ExecutionParameter(int),
        "crash": ExecutionParameter(bool, default=False),
    }


class NumberExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        CALLS.append(f"number{exec_properties['value']}")
        with open(output_dict["number"][0].path("value.txt"), "w") as f:
            f.write(str(exec_properties["value"]))
        if exec_properties["crash"]:
            raise RuntimeError("boom")


class Number(BaseComponent):
    SPEC_CLASS = NumberSpec
    EXECUTOR_CLASS = NumberExecutor


class SumSpec(ComponentSpec):
    INPUTS = {"numbers": ChannelParameter("Number")}
    OUTPUTS = {"total": ChannelParameter("Number")}
    PARAMETERS = {"path": ExecutionParameter(str, default="", is_path=True)}


class SumExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        CALLS.append("sum")
        total = sum(int(open(a.path("value.txt")).read()) for a in input_dict["numbers"])
        with open(output_dict["total"][0].path("value.txt"), "w") as f:
            f.write(str(total))


class Sum(BaseComponent):
    SPEC_CLASS = SumSpec
    EXECUTOR_CLASS = SumExecutor


def _pipeline(root, crash=False, path=""):
    a, b = Number("a", value=2), Number("b", value=3, crash=crash)
    total = Sum(numbers=[a.outputs["number"], b.outputs["number"]], path=path)
    return Pipeline("test", [total, a, b], str(root)), total  # order given out of order on purpose


def test_runs_in_topological_order_and_caches(tmp_path):
    CALLS.clear()
    pipeline, total = _pipeline(tmp_path)
    out = LocalDagRunner().run(pipeline)
    assert CALLS == ["number2", "number3", "sum"]
    assert open(out[total.id]["total"].path("value.txt")).read() == "5"
    CALLS.clear()
    LocalDagRunner().run(_pipeline(tmp_path)[0])
    assert CALLS == []
    log = [json.loads(line) for line in open(tmp_path / "executions.jsonl")]
    assert [entry["cached"] for entry in log] == [False] * 3 + [True] * 3


def test_crash_leaves_no_artefact_and_rerun_resumes(tmp_path):
    CALLS.clear()
    with pytest.raises(RuntimeError):
        LocalDagRunner().run(_pipeline(tmp_path, crash=True)[0])
    b_home = tmp_path / "Number.b"
    assert [p for p in os.listdir(b_home) if not p.startswith(".work")] == []  # no half output
    CALLS.clear()
    LocalDagRunner().run(_pipeline(tmp_path)[0])
    assert CALLS == ["number3", "sum"]  # Number.a came from the cache


def test_lineage_record(tmp_path):
    pipeline, total = _pipeline(tmp_path)
    out = LocalDagRunner().run(pipeline)
    folder = os.path.dirname(out[total.id]["total"].uri)
    record = json.load(open(os.path.join(folder, "execution.json")))
    assert record["component"] == "Sum" and len(record["inputs"]["numbers"]) == 2
    assert record["outputs"]["total"]["uri"] == out[total.id]["total"].uri


def test_path_parameters_invalidate_the_cache(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("one")
    LocalDagRunner().run(_pipeline(tmp_path / "root", path=str(data))[0])
    CALLS.clear()
    data.write_text("two, longer")
    LocalDagRunner().run(_pipeline(tmp_path / "root", path=str(data))[0])
    assert CALLS == ["sum"]


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
