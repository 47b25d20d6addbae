"""RayDagRunner with the pipeline root at a `file://` URI: every task stages through its own
worker process (download inputs into the mirror, run, upload with the marker last), and the
driver reads the cache at the URI. `file://` is the scheme every process sees without network;
`ram://` (one process's memory) is refused before any task."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest
import ray_components as rc
import tensorflow as tf
from cli_runner import run_program
from ray_fixtures import start_local_ray, stop_local_ray

from pipelines import main as pipeline_main
from poison_tf.dag import LocalDagRunner, Pipeline, executions, staging
from poison_tf.dag.ray_runner import RayDagRunner

pytestmark = pytest.mark.multiprocess


@pytest.fixture(scope="module")
def ray_instance():
    info, before = start_local_ray()
    yield info
    stop_local_ray(before)


@pytest.fixture
def stage(tmp_path, monkeypatch):
    """This test's own staging dir (the Ray runner passes it on to every task)."""
    monkeypatch.setenv(staging.STAGING_ENV, str(tmp_path / "stage"))
    return tmp_path / "stage"


def _branches(marker: str, extra: bool = False) -> list:
    a, b = rc.Number("a", value=2, marker=marker), rc.Number("b", value=3, marker=marker)
    parts = [a, b, rc.Sum("ab", numbers=[a.outputs["number"], b.outputs["number"]], marker=marker)]
    if extra:  # a new consumer of a and b: its task must download them from the URI
        parts.append(
            rc.Sum("ba", numbers=[b.outputs["number"], a.outputs["number"]], marker=marker)
        )
    return parts


def _files(root: str) -> dict[str, bytes]:
    """Relative path → bytes of every artefact file under the local folder `root`."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name not in ("execution.json", "executions.jsonl"):
                path = os.path.join(folder, name)
                found[os.path.relpath(path, root)] = open(path, "rb").read()
    return found


def _executed(marker: str) -> list[str]:
    return sorted(line.split()[0] for line in open(marker)) if os.path.exists(marker) else []


def test_ray_tasks_stage_through_the_uri(ray_instance, stage, tmp_path):
    marker = str(tmp_path / "marker.txt")
    LocalDagRunner().run(Pipeline("p", _branches(marker), str(tmp_path / "local")))
    os.remove(marker)
    target = tmp_path / "shared"
    uri = f"file://{target}"
    RayDagRunner().run(Pipeline("p", _branches(marker), uri))
    assert _executed(marker) == ["number2", "number3", "sum"]
    assert _files(str(target)) == _files(str(tmp_path / "local"))
    for cid in ("Number.a", "Number.b", "Sum.ab"):  # finished at the URI, marker included
        (folder,) = [f for f in os.listdir(target / cid) if not f.startswith(".")]
        assert (target / cid / folder / "execution.json").is_file()
    assert (stage / "file").is_dir()  # the tasks ran in the mirror, not in the URI's folder
    node, worker = executions.local_identity()
    records = executions.last_run(uri)
    assert [r["status"] for r in records] == ["ok"] * 3
    assert all(r["worker"] != worker for r in records)  # each ran in a Ray worker
    assert all(r["outputs"][k].startswith(uri) for r in records for k in r["outputs"])


def test_a_task_downloads_its_inputs_and_a_rerun_is_served_by_the_uri(
    ray_instance, stage, tmp_path
):
    marker = str(tmp_path / "marker.txt")
    uri = f"file://{tmp_path / 'shared'}"
    RayDagRunner().run(Pipeline("p", _branches(marker), uri))
    shutil.rmtree(stage)  # another node: nothing but the URI is shared
    os.remove(marker)
    out = RayDagRunner().run(Pipeline("p", _branches(marker, extra=True), uri))
    assert _executed(marker) == ["sum"]  # only the new consumer ran, on inputs it downloaded
    total = out["Sum.ba"]["total"]
    assert total.uri.startswith(f"{uri}/Sum.ba/")
    assert tf.io.gfile.GFile(total.path("value.txt")).read() == "5"
    RayDagRunner().run(Pipeline("p", _branches(marker, extra=True), uri))
    assert _executed(marker) == ["sum"]  # the cached rerun submitted nothing
    assert {r["status"] for r in executions.last_run(uri)} == {"cached"}


def test_a_ram_uri_is_refused_under_ray(ray_instance, stage, tmp_path, capsys):
    argv = [
        "--pipeline=badnets_regression", "--num_train=16", "--num_test=8", "--image_size=32",
        "--epochs=1", "--triggers=checkerboard", "--rates=50", "--runner=ray",
        "--output_dir=ram://ray-refused/run",
    ]  # fmt: skip
    status = run_program(pipeline_main.main, "poison-tf-pipeline", argv)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert status == 2 and len(errors) == 1 and "--output_dir=ram://" in errors[0], errors
    assert not tf.io.gfile.exists("ram://ray-refused/run")
    assert not stage.exists()


def test_a_killed_task_resumes_from_its_checkpoint_in_the_mirror(ray_instance, stage, tmp_path):
    def trainer(marker):
        return rc.TinyTrainer(
            "kill", epochs=2, delay=0.12, checkpoint_every_steps=4, marker=str(marker)
        )

    reference = RayDagRunner(cpus_per_task=1).run(
        Pipeline("ref", [trainer(tmp_path / "ref.txt")], str(tmp_path / "ref"))
    )
    marker, uri = tmp_path / "killed.txt", f"file://{tmp_path / 'shared'}"
    result: dict = {}
    driver = threading.Thread(  # the driver waits on Ray while the test kills the worker
        target=lambda: result.update(
            RayDagRunner(cpus_per_task=1).run(Pipeline("kill", [trainer(marker)], uri))
        )
    )
    driver.start()
    work = os.path.join(staging.local_path(uri), "TinyTrainer.kill", ".work")
    deadline = time.time() + 300
    while not glob.glob(os.path.join(work, "*", "checkpoints", "ckpt-*.index")):
        assert time.time() < deadline and driver.is_alive(), "no checkpoint appeared"
        time.sleep(0.1)
    os.kill(int(open(marker).read().split()[-1]), signal.SIGKILL)  # mid-training
    driver.join(timeout=600)
    starts = open(marker).read().splitlines()
    assert len(starts) == 2 and starts[0].startswith("start None"), starts
    assert "ckpt-" in starts[1]  # the retry began from the checkpoint left in the mirror
    model = result["TinyTrainer.kill"]["model"]
    assert model.uri.startswith(uri)
    got = rc.weights(staging.fetch(model))
    for a, b in zip(got, rc.weights(reference["TinyTrainer.kill"]["model"]), strict=True):
        np.testing.assert_array_equal(a, b)
