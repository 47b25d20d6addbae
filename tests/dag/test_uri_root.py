"""A pipeline root at a `tf.io.gfile` URI, under the local runner (`ram://`: in-memory, this
process only): the same artefacts as a local root, a rerun served from the URI, a cut upload
redone, inputs downloaded into an empty mirror, and the study's report files at the URI."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest
import ray_components as rc
import tensorflow as tf
from absl import flags
from absl.testing import flagsaver

from poison_tf.dag import executions, remote_fs, staging
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.pipeline import Pipeline
from poison_tf.dag.runner import LocalDagRunner, PipelineFailed
from poison_tf.dag.spec import ChannelParameter, ComponentSpec
from poison_tf.errors import UserInputError


@pytest.fixture
def uri(tmp_path, monkeypatch):
    """A fresh ram:// root, and a staging dir of this test's own."""
    monkeypatch.setenv(staging.STAGING_ENV, str(tmp_path / "stage"))
    return f"ram://uri-test-{uuid.uuid4().hex[:8]}/study"


def _branches(marker: str, extra: bool = False) -> list:
    a, b = rc.Number("a", value=2, marker=marker), rc.Number("b", value=3, marker=marker)
    parts = [a, b, rc.Sum("ab", numbers=[a.outputs["number"], b.outputs["number"]], marker=marker)]
    if extra:  # a new consumer of a and b: its inputs must come from the URI
        parts.append(
            rc.Sum("ba", numbers=[b.outputs["number"], a.outputs["number"]], marker=marker)
        )
    return parts


def _files(root: str) -> dict[str, bytes]:
    """Relative path → bytes of every artefact file under `root` (a folder or a URI), without
    the lineage and run log (they hold times and paths)."""
    found = {}
    for folder, _, names in tf.io.gfile.walk(root):
        for name in names:
            if name in ("execution.json", "executions.jsonl"):
                continue
            path = os.path.join(folder, name)
            with tf.io.gfile.GFile(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def _executed(marker: str) -> list[str]:
    return sorted(line.split()[0] for line in open(marker)) if os.path.exists(marker) else []


def test_a_uri_root_gives_the_artefacts_of_a_local_root(uri, tmp_path):
    marker = str(tmp_path / "marker.txt")
    LocalDagRunner().run(Pipeline("p", _branches(marker), str(tmp_path / "local")))
    os.remove(marker)
    out = LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    assert _executed(marker) == ["number2", "number3", "sum"]
    assert _files(uri) == _files(str(tmp_path / "local"))
    assert all(tf.io.gfile.exists(f"{uri}/{cid}") for cid in ("Number.a", "Number.b", "Sum.ab"))
    total = out["Sum.ab"]["total"]
    assert total.uri.startswith(f"{uri}/Sum.ab/")  # outputs are where every node finds them
    assert remote_fs.read_text(total.path("value.txt")) == "5"
    assert open(staging.fetch(total).path("value.txt")).read() == "5"  # this node's mirror copy
    log = [r for r in remote_fs.read_text(f"{uri}/executions.jsonl").splitlines() if r]
    assert [json.loads(r)["status"] for r in log] == ["ok"] * 3
    assert json.loads(log[-1])["outputs"]["total"].startswith(uri)  # the URI, not the mirror


def test_a_rerun_executes_nothing_even_from_an_empty_mirror(uri, tmp_path):
    marker = str(tmp_path / "marker.txt")
    LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    os.remove(marker)
    shutil.rmtree(tmp_path / "stage")  # another machine: only the URI is shared
    LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    assert _executed(marker) == []
    assert {r["status"] for r in executions.last_run(uri)} == {"cached"}
    downloaded = [n for _, _, names in os.walk(tmp_path / "stage") for n in names]
    assert "value.txt" not in downloaded  # a cached rerun downloads nothing


def test_inputs_are_downloaded_into_an_empty_mirror(uri, tmp_path):
    marker = str(tmp_path / "marker.txt")
    LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    shutil.rmtree(tmp_path / "stage")
    os.remove(marker)
    out = LocalDagRunner().run(Pipeline("p", _branches(marker, extra=True), uri))
    assert _executed(marker) == ["sum"]  # only the new consumer; a and b came from the URI
    assert remote_fs.read_text(out["Sum.ba"]["total"].path("value.txt")) == "5"


def test_an_upload_cut_before_its_marker_is_redone(uri, tmp_path, monkeypatch):
    marker = str(tmp_path / "marker.txt")
    copy = tf.io.gfile.copy

    def cut(source, target, overwrite=False):
        if target.endswith("/total/value.txt") and "/Sum.ab/" in target:
            raise tf.errors.UnavailableError(None, None, "connection lost")
        return copy(source, target, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", cut)
    with pytest.raises(PipelineFailed, match="connection lost"):
        LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    monkeypatch.setattr(tf.io.gfile, "copy", copy)
    folders = tf.io.gfile.listdir(f"{uri}/Sum.ab")
    assert len(folders) == 1  # the half upload: some files, and no execution.json
    half = f"{uri}/Sum.ab/{folders[0].strip('/')}"
    assert tf.io.gfile.exists(f"{half}/total/artifact.json")
    assert not tf.io.gfile.exists(f"{half}/total/value.txt")
    assert not tf.io.gfile.exists(f"{half}/execution.json")
    os.remove(marker)  # the mirror still holds Sum.ab's finished copy: not trusted
    LocalDagRunner().run(Pipeline("p", _branches(marker), uri))
    assert _executed(marker) == ["sum"]  # redone; a and b were finished at the URI
    assert tf.io.gfile.exists(f"{half}/execution.json")


def test_the_mirror_keeps_the_uri_shape():
    mirror = staging.local_path("gs://bucket/a/../b/study")
    assert mirror == os.path.join(staging.staging_dir(), "gs", "bucket", "b", "study")
    assert staging.local_path("gs://bucket/b/study/.pipeline") == os.path.join(mirror, ".pipeline")
    assert staging.local_path("/plain/path") == "/plain/path"
    assert staging.local_path("gs://b/../../etc").startswith(staging.staging_dir())
    inside = os.path.join(mirror, ".pipeline", "X", "f")
    assert staging.uri_of(inside, "gs://bucket/b/study") == "gs://bucket/b/study/.pipeline/X/f"
    assert staging.uri_of("/elsewhere/f", "gs://bucket/b/study") == "/elsewhere/f"


class ReportSpec(ComponentSpec):
    INPUTS = {"total": ChannelParameter("Number")}
    OUTPUTS = {"report": ChannelParameter("Report")}


class ReportExecutor(BaseExecutor):
    """Writes what a study's report artefact holds: report.md, a figure, a CSV, tensorboard/."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        total = open(input_dict["total"][0].path("value.txt")).read()
        out = output_dict["report"][0]
        with open(out.path("report.md"), "w") as handle:
            handle.write(f"# total {total}\n")
        with open(out.path("table.csv"), "w") as handle:
            handle.write(f"total\n{total}\n")
        os.makedirs(out.path("tensorboard", "run"))
        with open(out.path("tensorboard", "run", "events.out"), "wb") as handle:
            handle.write(b"\x00events")


class Report(BaseComponent):
    SPEC_CLASS = ReportSpec
    EXECUTOR_CLASS = ReportExecutor


def test_the_report_files_land_at_the_uri(uri, tmp_path):
    from pipelines import common

    parts = _branches("")
    report = Report(total=parts[2].outputs["total"])
    pipeline = Pipeline("p", [*parts, report], f"{uri}/.pipeline")
    with flagsaver.flagsaver():
        flags.FLAGS.mark_as_parsed()
        path = common.run_and_publish(pipeline, report.id, uri, {"preset": "demo"})
    assert path == f"{uri}/report.md"
    text = remote_fs.read_text(path)
    assert text.startswith("# total 5") and "## Run timeline" in text and "## Configuration" in text
    names = set(tf.io.gfile.listdir(uri))
    assert {"report.md", "table.csv", "timeline.png", "config.json"} <= {
        n.strip("/") for n in names
    }
    assert tf.io.gfile.exists(f"{uri}/tensorboard/run/events.out")
    assert tf.io.gfile.exists(f"{uri}/.pipeline/executions.jsonl")
    shutil.rmtree(tmp_path / "stage")  # a rerun elsewhere: all cached, the report fetched
    with flagsaver.flagsaver():
        flags.FLAGS.mark_as_parsed()
        common.run_and_publish(pipeline, report.id, uri, {"preset": "demo"})
    text = remote_fs.read_text(path)
    assert text.startswith("# total 5") and text.count("## Run timeline") == 1
    assert "0 component(s) executed" in text and "4 from the cache" in text


def test_a_mirror_copy_of_an_execution_redone_elsewhere_is_downloaded_again(uri, tmp_path):
    marker = str(tmp_path / "marker.txt")
    LocalDagRunner().run(Pipeline("p", _branches(marker, extra=True), uri))
    (folder,) = [f.strip("/") for f in tf.io.gfile.listdir(f"{uri}/Number.a")]
    redone = f"{uri}/Number.a/{folder}"  # another node reran it: other bytes, another record
    tf.io.gfile.remove(f"{redone}/number/value.txt")  # ram:// "w" does not truncate
    with tf.io.gfile.GFile(f"{redone}/number/value.txt", "w") as handle:
        handle.write("7")
    record = json.loads(remote_fs.read_text(f"{redone}/execution.json"))
    remote_fs.write_text(f"{redone}/execution.json", json.dumps(record | {"started": 1.0}))
    os.remove(marker)
    parts = _branches(marker)
    late = rc.Sum("late", numbers=[parts[0].outputs["number"]], marker=marker)
    out = LocalDagRunner().run(Pipeline("p", [*parts, late], uri))
    assert _executed(marker) == ["sum"]
    assert remote_fs.read_text(out["Sum.late"]["total"].path("value.txt")) == "7"


def test_programs_without_staging_refuse_a_uri_output_dir(tmp_path):
    remote_fs.require_local_output_dir(str(tmp_path), "poison-tf-demo", "per study")
    with pytest.raises(UserInputError, match="--output_dir is required"):
        remote_fs.require_local_output_dir("", "poison-tf-demo", "per study")
    with pytest.raises(
        UserInputError,
        match=r"--output_dir=gs://b/x: poison-tf-demo writes a local \(or mounted\) folder; "
        r"a URI works per study \(poison-tf-pipeline --output_dir=<URI>\)",
    ):
        remote_fs.require_local_output_dir("gs://b/x", "poison-tf-demo", "per study")
