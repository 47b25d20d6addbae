"""`--runner=ray` bad input: one `error:` line, exit 2, before any task starts (nothing written).

The multi-node cases join a real two-node Ray cluster on this machine (ray.cluster_utils:
a head and a worker node, each its own raylet on 127.0.0.1).
"""

from __future__ import annotations

import os
import socket

import psutil
import pytest
from cli_runner import run_program
from ray_fixtures import stop_local_ray, worker_path_env

from pipelines import main as pipeline_main

pytestmark = pytest.mark.multiprocess

TINY = [
    "--pipeline=badnets_regression",
    "--num_train=16",
    "--num_test=8",
    "--image_size=32",
    "--width=0.25",
    "--epochs=1",
    "--triggers=checkerboard",
    "--rates=50",
    "--runner=ray",
]


@pytest.fixture(scope="module")
def two_nodes():
    worker_path_env()
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    ray_constants.ENABLE_RAY_CLUSTER = False
    saved = os.environ.get("RAY_ADDRESS")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster.address
    cluster.shutdown()
    if saved is None:
        os.environ.pop("RAY_ADDRESS", None)
    else:
        os.environ["RAY_ADDRESS"] = saved
    stop_local_ray(before)


def _refused(capsys, argv: list[str], out, message: str) -> None:
    """Runs the tiny Ray pipeline into `out`; asserts exit status 2, one `error:` line holding
    `message`, and no `out` (the check comes before any task starts)."""
    argv = [*TINY, *argv, f"--output_dir={out}"]
    status = run_program(pipeline_main.main, "poison-tf-pipeline", argv)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert status == 2 and len(errors) == 1 and message in errors[0], (status, errors)
    assert not os.path.exists(out)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_address(tmp_path, capsys):
    port = _closed_port()
    message = f"--ray_address=127.0.0.1:{port}: no Ray head answers there"
    _refused(capsys, [f"--ray_address=127.0.0.1:{port}"], tmp_path / "run", message)


def test_a_relative_output_dir_on_a_multi_node_cluster(two_nodes, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = "--output_dir=runs/x: a relative path, but the Ray cluster has 2 nodes"
    _refused(capsys, [f"--ray_address={two_nodes}"], "runs/x", message)
    assert not (tmp_path / "runs").exists()


def test_a_local_only_output_dir_on_a_multi_node_cluster(two_nodes, tmp_path, capsys):
    from poison_tf.dag.ray_cluster import LOCAL_ONLY_FS, filesystem_type

    kind = filesystem_type(str(tmp_path))
    if kind not in LOCAL_ONLY_FS:
        pytest.skip(f"{tmp_path} is on {kind}, not a local-only file system")
    message = f"on a local {kind} file system, but the Ray cluster has 2 nodes"
    _refused(capsys, [f"--ray_address={two_nodes}"], tmp_path / "run", message)


def test_a_file_uri_on_a_local_only_file_system_on_a_multi_node_cluster(
    two_nodes, tmp_path, capsys
):
    from poison_tf.dag.ray_cluster import LOCAL_ONLY_FS, filesystem_type

    kind = filesystem_type(str(tmp_path))
    if kind not in LOCAL_ONLY_FS:
        pytest.skip(f"{tmp_path} is on {kind}, not a local-only file system")
    out = tmp_path / "run"
    message = f"--output_dir=file://{out}: on a local {kind} file system, but the Ray cluster has 2"
    _refused(capsys, [f"--ray_address={two_nodes}"], f"file://{out}", message)
    assert not out.exists()


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--gpus_per_task=1", "--gpus_per_task=1: no node of the Ray cluster has that many GPUs"),
        ("--cpus_per_task=3", "--cpus_per_task=3: no node of the Ray cluster has that many CPUs"),
        ("--strategy=multi_worker", "--strategy=multi_worker spreads one training"),
    ],
)
def test_a_share_no_node_has(two_nodes, tmp_path, capsys, flag, message):
    _refused(capsys, [f"--ray_address={two_nodes}", flag], tmp_path / "run", message)


def test_an_unreachable_ray_address_variable(tmp_path, capsys, monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    message = f"RAY_ADDRESS=127.0.0.1:{port}: no Ray head answers"
    _refused(capsys, [], tmp_path / "run", message)
