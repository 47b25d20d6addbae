"""One local Ray instance per test module (2 CPUs, 127.0.0.1), and the no-leak check after it."""

from __future__ import annotations

import os
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def worker_path_env() -> None:
    """Ray workers inherit this environment: they import the project and the test components."""
    paths = [REPO, HERE, os.path.join(REPO, "tests", "train")]
    old = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def leftover_children(before: set[int], timeout: float = 20.0) -> list[str]:
    """Processes started since `before` that are still alive after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        alive = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        ]
        if not alive or time.time() > deadline:
            return [f"{p.pid} {p.name()}" for p in alive]
        time.sleep(0.25)


def ray_listening_addresses() -> set[str]:
    """IP addresses the Ray processes started by this test process listen on."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            for conn in child.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add(conn.laddr.ip)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def start_local_ray():
    """Starts the local instance the way `--runner=ray` does (ray_cluster.connect)."""
    worker_path_env()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    from poison_tf.dag import ray_cluster

    info = ray_cluster.connect(None, num_cpus=2)
    return info, before


def stop_local_ray(before: set[int]) -> None:
    import ray

    ray.shutdown()
    left = leftover_children(before)
    assert not left, f"Ray left processes behind: {left}"
