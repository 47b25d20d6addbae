"""`<root>/executions.jsonl`: one line per component a runner handled, from either runner.

The log answers "what ran where, when, and how did it end" for a whole sweep: `component` (its id,
e.g. `HeadPoseTrainer.checkerboard_50`), `start` / `end` (Unix seconds), `node` (host or Ray node
IP), `worker` (process), `status` (`ok`, `cached`, `failed`, `upstream_failed`) and `run` (one id
per runner call, so the timeline of the latest run can be cut out of a log that grows over
reruns). Only the driver appends to it, one whole line per write, so lines never interleave even
when many Ray tasks finish at once.
"""

from __future__ import annotations

import json
import os
import platform
import uuid

from poison_tf.dag import remote_fs
from poison_tf.dag.lineage import LOG_FILE

STATUSES = ("ok", "cached", "failed", "upstream_failed")


def new_run_id() -> str:
    """A short random id that tags every record of one runner call."""
    return uuid.uuid4().hex[:12]


def local_identity() -> tuple[str, str]:
    """(node, worker) of this process, as the local runner records them."""
    return platform.node(), f"pid {os.getpid()}"


def log_path(root: str) -> str:
    """`<root>/executions.jsonl` (root: a local folder or a URI)."""
    return os.path.join(root, LOG_FILE)


def append(root: str, record: dict) -> None:
    """Appends one record (a JSON object on one line) to `<root>/executions.jsonl`.

    At a URI root (`gs://...`) the log is read and written back whole through a temporary
    object and a rename (object stores cannot append); it is a few hundred lines at most.
    """
    if record.get("status") not in STATUSES:
        raise ValueError(f"execution status {record.get('status')!r} is not one of {STATUSES}")
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    if remote_fs.is_uri(root):
        remote_fs.write_text(log_path(root), (remote_fs.read_text(log_path(root)) or "") + line)
        return
    os.makedirs(root, exist_ok=True)
    with open(log_path(root), "a") as handle:
        handle.write(line)


def make_record(
    pipeline: str,
    component: str,
    run: str,
    start: float,
    end: float,
    status: str,
    node: str,
    worker: str,
    outputs: dict | None = None,
    error: str | None = None,
    **extra,
) -> dict:
    """The fields every runner writes; `cached` and `seconds` stay for older readers."""
    record = {
        "pipeline": pipeline,
        "component": component,
        "run": run,
        "start": round(start, 3),
        "end": round(end, 3),
        "seconds": round(end - start, 3),
        "node": node,
        "worker": worker,
        "status": status,
        "cached": status == "cached",
        "outputs": {k: a.uri for k, a in (outputs or {}).items()},
    }
    if error:
        record["error"] = error
    return record | extra


def read(root: str, run: str | None = None) -> list[dict]:
    """Every record of `<root>/executions.jsonl` (only those of `run` when given); [] if none."""
    path = log_path(root)
    if remote_fs.is_uri(root):
        text = remote_fs.read_text(path) or ""
    elif os.path.isfile(path):
        with open(path) as handle:
            text = handle.read()
    else:
        return []
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in records if run is None or r.get("run") == run]


def last_run(root: str) -> list[dict]:
    """The records of the most recent runner call in the log."""
    records = read(root)
    return [r for r in records if r.get("run") == records[-1].get("run")] if records else []
