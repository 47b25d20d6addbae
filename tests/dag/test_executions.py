"""executions.jsonl from the local runner (fields, failed status) and the run timeline PNG."""

from __future__ import annotations

import os

import pytest
import ray_components as rc

from poison_tf.dag import LocalDagRunner, Pipeline, executions
from poison_tf.dag.timeline import TIMELINE_FILE, add_timeline, plot_timeline


def _dag(crash=False):
    a, b = rc.Number("a", value=2), rc.Number("b", value=3, crash=crash)
    return [rc.Sum("ab", numbers=[a.outputs["number"], b.outputs["number"]]), a, b]


def test_the_local_runner_records_every_component_with_its_outcome(tmp_path):
    root = str(tmp_path / "root")
    with pytest.raises(RuntimeError, match="boom 3"):
        LocalDagRunner().run(Pipeline("t", _dag(crash=True), root))
    first = executions.last_run(root)
    assert [(r["component"], r["status"]) for r in first] == [
        ("Number.a", "ok"),
        ("Number.b", "failed"),
        ("Sum.ab", "upstream_failed"),
    ]
    assert first[1]["error"] == "RuntimeError: boom 3"
    LocalDagRunner().run(Pipeline("t", _dag(), root))
    second = executions.last_run(root)
    assert [(r["component"], r["status"]) for r in second] == [
        ("Number.a", "cached"),
        ("Number.b", "ok"),
        ("Sum.ab", "ok"),
    ]
    assert second[0]["run"] != first[0]["run"]
    assert [r["component"] for r in second] == ["Number.a", "Number.b", "Sum.ab"]
    node, worker = executions.local_identity()
    for record in second:
        assert record["node"] == node and record["worker"] == worker == f"pid {os.getpid()}"
        assert 0 <= record["end"] - record["start"] < 60


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError, match="status"):
        executions.append(str(tmp_path), {"status": "done"})


def test_timeline_draws_one_bar_per_executed_component(tmp_path):
    records = [
        {"component": "A", "start": 10.0, "end": 14.0, "node": "n", "worker": "w1", "status": "ok"},
        {"component": "B", "start": 11.0, "end": 13.0, "node": "n", "worker": "w2", "status": "ok"},
        {"component": "C", "start": 14.0, "end": 15.0, "node": "n", "worker": "w1", "status": "failed"},
        {"component": "D", "start": 15.0, "end": 15.0, "node": "n", "worker": "w0", "status": "cached"},
    ]  # fmt: skip
    path = str(tmp_path / "t.png")
    assert plot_timeline(records, path) == 3
    assert os.path.getsize(path) > 5000


def test_the_report_gets_a_timeline_section(tmp_path):
    root, out = str(tmp_path / "root"), tmp_path / "out"
    LocalDagRunner().run(Pipeline("t", _dag(), root))
    out.mkdir()
    (out / "report.md").write_text("# report\n")
    assert add_timeline(root, str(out), "local") == str(out / TIMELINE_FILE)
    text = (out / "report.md").read_text()
    assert "## Run timeline" in text and "3 component(s) executed on 1 worker(s)" in text
    assert (out / TIMELINE_FILE).stat().st_size > 5000


def test_a_failed_run_exits_1_naming_the_component_and_what_was_not_run(capsys):
    from poison_tf.dag.runner import PipelineFailed, report_failure

    failed = PipelineFailed("p", {"Number.b": "RuntimeError: boom 3"}, ["Sum.ab"])
    with pytest.raises(SystemExit) as exit_:
        report_failure(failed)
    assert exit_.value.code == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[0] == "error: Number.b failed: RuntimeError: boom 3"
    assert errors[1].startswith("error: not run because of it: Sum.ab;")


def test_the_local_runner_fails_only_the_failed_branch_and_names_it(tmp_path):
    """As under Ray: the failed component's downstream is not run, the other branch finishes,
    and the run ends in PipelineFailed naming the failure; bad input still stops at once."""
    from poison_tf.dag.runner import PipelineFailed

    root = str(tmp_path / "root")
    c = rc.Number("c", value=4)
    alone = rc.Sum("c", numbers=[c.outputs["number"]])
    with pytest.raises(PipelineFailed, match="Number.b: RuntimeError: boom 3") as failed:
        LocalDagRunner().run(Pipeline("t", [*_dag(crash=True), c, alone], root))
    assert failed.value.skipped == ["Sum.ab"] and list(failed.value.failures) == ["Number.b"]
    statuses = {r["component"]: r["status"] for r in executions.last_run(root)}
    assert statuses == {
        "Number.a": "ok",
        "Number.b": "failed",
        "Sum.ab": "upstream_failed",
        "Number.c": "ok",
        "Sum.c": "ok",
    }
    assert not os.path.exists(os.path.join(root, "Sum.ab"))
