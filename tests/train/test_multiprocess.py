"""Process-level guarantees, each judged by what the processes did, not by agreement alone:

- two MultiWorkerMirroredStrategy workers on 127.0.0.1 (in a private network namespace where
  the system allows one, see `_private_network`) form one 2-replica job: each trains on
  its own half of every global batch, and both end with the weights of one process trained on
  the whole global batch (not those of a worker alone);
- a run SIGKILLed mid-epoch right after a `checkpoint_every_steps` checkpoint resumes from that
  checkpoint's step (it runs only the remaining steps) and ends with the uninterrupted weights.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from parallel_checks import check_shards, check_weights
from sigkill import sigkill_when
from tiny_task import TinyRegressionTask

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = [sys.executable, str(HERE / "tiny_task.py")]
STEPS_PER_EPOCH = 16  # 256 examples, global batch 16


def _env(**extra):
    path = os.pathsep.join([str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2", **extra)


def _weights(path):
    with np.load(path) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def _report(npz_path) -> dict:
    return json.loads(pathlib.Path(str(npz_path)[: -len(".npz")] + ".json").read_text())


def _private_network() -> list[str]:
    """A command prefix that runs a program in a new network namespace with only loopback up.

    TF's gRPC server listens on 0.0.0.0 (all interfaces) whatever TF_CONFIG says; inside
    `unshare -rn` (an unprivileged user + network namespace) the only interface is loopback,
    so the workers are reachable from 127.0.0.1 of that namespace only. Empty when the system
    does not allow it (no `unshare` / `ip`, or user namespaces disabled).
    """
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip:
        return []
    prefix = [unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$0" "$@"']
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if probe.returncode == 0 else []


@pytest.mark.multiprocess
def test_two_workers_train_one_model_on_disjoint_shards(tmp_path):
    epochs = 2
    prefix = _private_network()
    if not prefix:
        warnings.warn(
            "no private network namespace: the MWMS workers listen on all interfaces", stacklevel=2
        )
    launched = subprocess.run(
        [*prefix, sys.executable, str(HERE / "two_workers.py"), str(tmp_path), str(epochs)],
        env=_env(),
        capture_output=True,
        timeout=400,
    )
    assert launched.returncode == 0, launched.stderr.decode()[-6000:]
    task = TinyRegressionTask()
    reports = [_report(tmp_path / f"w{index}.npz") for index in range(2)]
    assert [r["replicas"] for r in reports] == [2, 2]
    for index, report in enumerate(reports):  # one replica per worker, numbered by its index
        assert {s["replica"] for s in report["steps"]} == {index}
    check_shards(task, reports[0]["steps"] + reports[1]["steps"], replicas=2, epochs=epochs)
    w0, w1 = _weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    measured = check_weights(w0, tmp_path / "ref", epochs)
    print(f"max |weight difference|: {measured}")
    assert (tmp_path / "model" / "checkpoints").is_dir()  # chief wrote checkpoints
    assert not any(p.name.startswith("checkpoints_tmp") for p in (tmp_path / "model").iterdir())


def _latest_checkpoint(ckpt_dir: pathlib.Path) -> int:
    index = ckpt_dir / "checkpoint"
    found = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', index.read_text(), re.M)
    return int(found.group(1)) if found else 0


@pytest.mark.multiprocess
def test_sigkill_mid_epoch_resumes_from_the_saved_step(tmp_path):
    epochs, every, total = 3, 3, 3 * STEPS_PER_EPOCH
    args = ["default", str(tmp_path / "killed"), str(tmp_path / "killed.npz"), str(epochs)]
    args += [str(every)]
    proc = subprocess.Popen(
        WORKER + args + ["0.05"], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt_dir = tmp_path / "killed" / "checkpoints"
    # kill in epoch 2, right after a mid-epoch checkpoint (ckpt-18 is step 2 of epoch 2)
    sigkill_when(
        proc,
        lambda: (ckpt_dir / "checkpoint").exists() and _latest_checkpoint(ckpt_dir) >= 18,
        timeout_s=240,
    )
    assert not (tmp_path / "killed.npz").exists()
    saved = _latest_checkpoint(ckpt_dir)
    assert STEPS_PER_EPOCH < saved < total and saved % STEPS_PER_EPOCH, f"ckpt-{saved}"

    resumed = subprocess.run(WORKER + args, env=_env(), capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    steps = [s["iterations"] for s in _report(tmp_path / "killed.npz")["steps"]]
    assert steps == list(range(saved, total)), f"resumed run ran steps {steps[:3]}..{steps[-3:]}"

    straight = subprocess.run(
        WORKER + ["default", str(tmp_path / "straight"), str(tmp_path / "straight.npz")]
        + [str(epochs)],
        env=_env(),
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    assert straight.returncode == 0, straight.stderr.decode()[-2000:]
    steps = [s["iterations"] for s in _report(tmp_path / "straight.npz")["steps"]]
    assert steps == list(range(total))
    for a, b in zip(_weights(tmp_path / "killed.npz"), _weights(tmp_path / "straight.npz")):
        np.testing.assert_array_equal(a, b)
