"""Process-level guarantees: two MWMS workers agree; a SIGKILLed run resumes to the same weights."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = [sys.executable, str(HERE / "tiny_task.py")]


def _env(**extra):
    path = os.pathsep.join([str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2", **extra)


def _weights(path):
    with np.load(path) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.multiprocess
def test_multi_worker_mirrored_two_processes_same_weights(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(
            subprocess.Popen(
                WORKER
                + ["multi_worker", str(tmp_path / "model"), str(tmp_path / f"w{index}.npz"), "2"],
                env=_env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for a, b in zip(_weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "model" / "checkpoints").is_dir()  # chief wrote checkpoints
    assert not any(p.name.startswith("checkpoints_tmp") for p in (tmp_path / "model").iterdir())


@pytest.mark.multiprocess
def test_sigkill_mid_training_resumes_to_the_same_weights(tmp_path):
    args = ["default", str(tmp_path / "killed"), str(tmp_path / "killed.npz"), "3", "4", "0.05"]
    proc = subprocess.Popen(
        WORKER + args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt_dir = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        index = ckpt_dir / "checkpoint"
        if index.exists() and "ckpt-8" in index.read_text():
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed.npz").exists()
    resumed = subprocess.run(WORKER + args[:5], env=_env(), capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    straight = subprocess.run(
        WORKER + ["default", str(tmp_path / "straight"), str(tmp_path / "straight.npz"), "3", "4"],
        env=_env(),
        capture_output=True,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr.decode()[-2000:]
    for a, b in zip(_weights(tmp_path / "killed.npz"), _weights(tmp_path / "straight.npz")):
        np.testing.assert_array_equal(a, b)
