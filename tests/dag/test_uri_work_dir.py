"""An execution's work dir (a trainer's checkpoints) at a URI root (`work_sync`): a retry on
another node (another staging dir) resumes from the copy at the URI; an upload cut before its
manifest is ignored; each save sends only what changed; the copy is deleted once the execution
has finished. The last test SIGKILLs a real training in one process ("node") and resumes it in
another with another staging dir, to the uninterrupted run's weights bit for bit."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import uuid

import numpy as np
import pytest
import ray_components as rc
import tensorflow as tf
from sigkill import sigkill_when

from poison_tf.dag import remote_fs, staging
from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.execution import execution_fingerprint, work_folder
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.pipeline import Pipeline
from poison_tf.dag.runner import LocalDagRunner, PipelineFailed
from poison_tf.dag.spec import ChannelParameter, ComponentSpec, ExecutionParameter
from poison_tf.dag.work_sync import MANIFEST

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUN = {"crash_at": None, "starts": []}  # what the in-process stand-in trainer does and did


class StepsSpec(ComponentSpec):
    OUTPUTS = {"total": ChannelParameter("Number")}
    PARAMETERS = {"steps": ExecutionParameter(int, default=5)}


class StepsExecutor(BaseExecutor):
    """A stand-in trainer shaped like CheckpointManager: per step a new `ckpt-<n>` file (the two
    newest kept) and a `state` file rewritten in place at the same size, then `work_saved`;
    `RUN["crash_at"]` ends it after that step's save (the kill, in-process)."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        os.makedirs(self.work_dir, exist_ok=True)
        state = os.path.join(self.work_dir, "state")
        done = int(open(state).read()) if os.path.isfile(state) else 0
        RUN["starts"].append(done)
        for step in range(done + 1, exec_properties["steps"] + 1):
            with open(os.path.join(self.work_dir, f"ckpt-{step}"), "w") as handle:
                handle.write(str(step) * 1000)
            if os.path.isfile(old := os.path.join(self.work_dir, f"ckpt-{step - 2}")):
                os.remove(old)
            with open(state, "w") as handle:
                handle.write(str(step))
            self.work_saved()
            if RUN["crash_at"] == step:
                raise RuntimeError(f"killed after step {step}")
        with open(output_dict["total"][0].path("value.txt"), "w") as handle:
            handle.write(str(step))


class Steps(BaseComponent):
    SPEC_CLASS = StepsSpec
    EXECUTOR_CLASS = StepsExecutor


@pytest.fixture
def uri(monkeypatch):
    """A fresh ram:// root; the stand-in trainer's record reset."""
    RUN.update(crash_at=None, starts=[])
    return f"ram://work-sync-{uuid.uuid4().hex[:8]}/study/.pipeline"


def _on_node(monkeypatch, tmp_path, name: str) -> str:
    """Makes this process stand for node `name`: its own staging dir (mirror)."""
    stage = str(tmp_path / f"stage_{name}")
    monkeypatch.setenv(staging.STAGING_ENV, stage)
    return stage


def _run(uri: str, crash_at: int | None = None) -> dict:
    RUN["crash_at"] = crash_at
    return LocalDagRunner().run(Pipeline("p", [Steps("s")], uri))


def _copy(uri: str) -> str:
    """Where the copy of Steps.s's work dir lives at the URI."""
    component = Steps("s")
    return work_folder(uri, component, execution_fingerprint(component, {}))


def _manifest(uri: str) -> dict:
    return json.loads(remote_fs.read_text(f"{_copy(uri)}/{MANIFEST}"))


def _stored(uri: str, name: str) -> str:
    """The bytes of the work-dir file `name` as the URI's manifest names them."""
    return remote_fs.read_text(f"{_copy(uri)}/{_manifest(uri)['files'][name]['object']}")


def _records(stage) -> list[str]:
    """The sync records (`.<fp>.sync.json`) under a staging dir."""
    return [n for _, _, names in os.walk(stage) for n in names if n.endswith(".sync.json")]


def _count(monkeypatch, name: str) -> list:
    """Records the arguments of every `remote_fs.<name>` call (which still runs)."""
    calls, original = [], getattr(remote_fs, name)
    monkeypatch.setattr(remote_fs, name, lambda *a: (calls.append(a), original(*a))[1])
    return calls


def test_a_retry_resumes_from_the_newest_copy_wherever_it_ran(uri, tmp_path, monkeypatch):
    downloads = _count(monkeypatch, "get_file")
    _on_node(monkeypatch, tmp_path, "a")
    with pytest.raises(PipelineFailed, match="killed after step 2"):
        _run(uri, crash_at=2)
    assert sorted(_manifest(uri)["files"]) == ["ckpt-1", "ckpt-2", "state"]
    assert _stored(uri, "state") == "2"
    with pytest.raises(PipelineFailed, match="killed after step 3"):
        _run(uri, crash_at=3)  # node a again: its own copy is the URI's, nothing downloaded
    assert RUN["starts"] == [0, 2] and downloads == []
    stage_b = _on_node(monkeypatch, tmp_path, "b")
    with pytest.raises(PipelineFailed, match="killed after step 4"):
        _run(uri, crash_at=4)  # node b: an empty mirror, the copy at the URI
    assert RUN["starts"][-1] == 3 and len(downloads) == 3
    _on_node(monkeypatch, tmp_path, "a")
    out = _run(uri)  # node a's own work dir (step 3) is older than the URI's (step 4)
    assert RUN["starts"] == [0, 2, 3, 4]
    assert remote_fs.read_text(out["Steps.s"]["total"].path("value.txt")) == "5"
    # finished: the copy at the URI and the node's record of it are gone, as the work dir is
    assert not tf.io.gfile.exists(_copy(uri))
    assert _records(tmp_path / "stage_a") == []
    assert len(_records(stage_b)) == 1  # b's is left: b died


def test_an_upload_cut_before_its_manifest_is_ignored(uri, tmp_path, monkeypatch):
    _on_node(monkeypatch, tmp_path, "a")
    stray = f"{_copy(uri)}/0123456789ab/state"  # a first upload cut: objects, no manifest
    with tf.io.gfile.GFile(stray, "w") as handle:
        handle.write("4")
    with pytest.raises(PipelineFailed, match="killed after step 2"):
        _run(uri, crash_at=2)
    assert RUN["starts"] == [0]  # the stray objects were not taken for a checkpoint
    put = remote_fs.put_file

    def cut(local, target):  # step 3's upload: ckpt-3 goes up, then the connection drops
        if target.endswith("/state") and open(local).read() == "3":
            raise tf.errors.UnavailableError(None, None, "connection lost")
        put(local, target)

    monkeypatch.setattr(remote_fs, "put_file", cut)
    with pytest.raises(PipelineFailed, match="killed after step 3"):
        _run(uri, crash_at=3)  # the failed save was logged, training went on
    monkeypatch.setattr(remote_fs, "put_file", put)
    objects = [f for _, _, files in tf.io.gfile.walk(_copy(uri)) for f in files]
    assert objects.count("ckpt-3") == 1  # uploaded, but no manifest names it
    assert sorted(_manifest(uri)["files"]) == ["ckpt-1", "ckpt-2", "state"]
    _on_node(monkeypatch, tmp_path, "b")
    _run(uri)
    assert RUN["starts"] == [0, 2, 2]  # node b resumed from the last complete copy


def test_each_save_sends_only_what_changed(uri, tmp_path, monkeypatch):
    _on_node(monkeypatch, tmp_path, "a")
    sent = _count(monkeypatch, "put_file")
    manifests = _count(monkeypatch, "write_text")
    with pytest.raises(PipelineFailed):
        _run(uri, crash_at=4)
    names = [os.path.basename(target) for _, target in sent]
    assert names == ["ckpt-1", "state", "ckpt-2", "state", "ckpt-3", "state", "ckpt-4", "state"]
    assert [t for t, _ in manifests if t.endswith(MANIFEST)] == [f"{_copy(uri)}/{MANIFEST}"] * 4
    objects = sorted(f for _, _, files in tf.io.gfile.walk(_copy(uri)) for f in files)
    assert objects == ["ckpt-3", "ckpt-4", MANIFEST, "state"]  # replaced objects deleted


def _env(stage: str) -> dict:
    path = os.pathsep.join([REPO, HERE, os.path.join(REPO, "tests", "train")])
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2", POISON_TF_STAGING_DIR=stage)


def _trainer(root: str, marker, stage, wait: bool = True):
    """Runs tests/dag/uri_trainer.py (one "node") on `root`: 3 epochs of 16 steps, 0.15 s each,
    a checkpoint every 6 steps and at each epoch's end."""
    argv = [sys.executable, os.path.join(HERE, "uri_trainer.py"), root, str(marker), "3", "6"]
    argv.append("0.15")
    if not wait:
        return subprocess.Popen(argv, env=_env(str(stage)), stderr=subprocess.DEVNULL)
    done = subprocess.run(argv, env=_env(str(stage)), capture_output=True, timeout=400)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def _newest_uploaded(shared) -> int:
    """The step of the newest checkpoint a manifest at the URI names (0: none yet)."""
    steps = [0]
    for path in glob.glob(str(shared / "TinyTrainer.kill" / ".work" / "*" / MANIFEST)):
        try:
            files = json.load(open(path))["files"]
        except ValueError:  # being replaced
            continue
        steps += [int(m.group(1)) for f in files if (m := re.match(r"checkpoints/ckpt-(\d+)\.", f))]
    return max(steps)


@pytest.mark.multiprocess
def test_a_trainer_killed_on_one_node_resumes_on_another(tmp_path):
    shared, marker = tmp_path / "shared", tmp_path / "marker.txt"
    uri = f"file://{shared}"
    killed = _trainer(uri, marker, tmp_path / "node_a", wait=False)
    # kill in epoch 2, once a checkpoint past the first epoch (16 steps) is at the URI
    sigkill_when(killed, lambda: _newest_uploaded(shared) >= 18, timeout_s=300, poll_s=0.05)
    uploaded = _newest_uploaded(shared)
    assert uploaded < 48 and not glob.glob(str(shared / "TinyTrainer.kill" / "[!.]*"))
    _trainer(uri, marker, tmp_path / "node_b")  # another node: an empty mirror
    starts = open(marker).read().splitlines()
    assert len(starts) == 2 and starts[0].startswith("start None"), starts
    resumed = starts[1].split()[1]  # the checkpoint node b began from: the URI's newest
    assert resumed.startswith(str(tmp_path / "node_b")) and resumed.endswith(f"ckpt-{uploaded}")
    assert int(starts[1].split("epoch=")[1].split()[0]) >= 1, starts[1]
    _trainer(str(tmp_path / "reference"), tmp_path / "ref.txt", tmp_path / "node_c")
    (final,) = glob.glob(str(shared / "TinyTrainer.kill" / "[!.]*" / "model"))
    (straight,) = glob.glob(str(tmp_path / "reference" / "TinyTrainer.kill" / "[!.]*" / "model"))
    got = rc.weights(Artifact("Model", final))
    for a, b in zip(got, rc.weights(Artifact("Model", straight)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(shared / "TinyTrainer.kill" / ".work") == []  # the copy went with it
