"""Joining or starting Ray for `--runner=ray`, and the checks that must pass before any task runs.

Everything a user can get wrong about the cluster is found here, before the first component is
submitted: an address nobody answers at, an output folder the other nodes cannot see (a local
disk, or a `ram://` URI), a GPU or CPU share no node has. Each becomes one `UserInputError`
naming the flag.

The embedded default (no address) is a one-machine Ray instance that listens on 127.0.0.1 only:
on Linux Ray's gRPC servers bind every interface unless cluster mode is off, so it is switched
off (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, read by Ray at import and by its processes) for the
local instance, and the dashboard and usage statistics stay off.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from urllib.parse import urlparse

from poison_tf.errors import UserInputError

# File systems whose contents only this machine sees (a path on them is not shared storage).
LOCAL_ONLY_FS = {
    "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "tmpfs", "ramfs", "overlay", "vfat",
    "exfat", "ntfs", "ntfs3", "squashfs", "devtmpfs", "zfs",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    """What the runner needs to know about the cluster it submits to."""

    nodes: int
    max_cpus: float  # the most CPUs one alive node offers
    max_gpus: float  # the most GPUs one alive node offers
    cpus_per_gpu: float  # on the GPU node with the fewest CPUs per GPU (0 without GPUs)
    started_here: bool  # this process started Ray and must shut it down


def _import_ray(local: bool):
    if local:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # bind 127.0.0.1, not 0.0.0.0
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise UserInputError(
            "--runner=ray needs Ray: pip install 'poison_tf[ray]' (or ray>=2.40)"
        ) from None
    if local:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before
    return ray


def check_address(address: str, name: str = "--ray_address") -> None:
    """Raises a UserInputError unless something accepts TCP connections at `address`
    (`name` is where the address came from: the flag or RAY_ADDRESS)."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UserInputError(f"{name}={address!r}: expected <host>:<port>")
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as error:
        raise UserInputError(
            f"{name}={address}: no Ray head answers there ({error.strerror or error}); "
            "start one with `ray start --head` or check the address"
        ) from None


def connect(address: str | None, num_cpus: int | None = None) -> ClusterInfo:
    """Joins the cluster at `address` (or RAY_ADDRESS), or starts a local instance; reuses an
    already initialised Ray. Returns what the cluster offers."""
    name = "--ray_address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        check_address(address, name)
    ray = _import_ray(local=address is None)
    started = False
    if not ray.is_initialized():
        if address is not None:
            try:
                ray.init(address=address, logging_level="WARNING", log_to_driver=False)
            except Exception as error:  # a port that answers but is no Ray head, a version clash
                raise UserInputError(f"{name}={address}: cannot join ({error})") from None
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                logging_level="WARNING",
                log_to_driver=False,
            )
        started = True
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    resources = [n.get("Resources", {}) for n in nodes]
    gpu_nodes = [r for r in resources if r.get("GPU", 0) > 0]
    return ClusterInfo(
        nodes=len(nodes),
        max_cpus=max((r.get("CPU", 0.0) for r in resources), default=0.0),
        max_gpus=max((r.get("GPU", 0.0) for r in resources), default=0.0),
        cpus_per_gpu=min((r.get("CPU", 0.0) / r["GPU"] for r in gpu_nodes), default=0.0),
        started_here=started,
    )


def shutdown(info: ClusterInfo) -> None:
    """Stops Ray if this process started it (a joined cluster keeps running)."""
    if info.started_here:
        import ray

        ray.shutdown()


def filesystem_type(path: str) -> str | None:
    """The type of the file system that holds `path` (its nearest existing ancestor), from
    /proc/mounts; None where that cannot be read (not Linux)."""
    try:
        with open("/proc/mounts") as handle:
            mounts = [line.split()[1:3] for line in handle if len(line.split()) > 2]
    except OSError:
        return None
    path = os.path.realpath(path)
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    best, kind = "", None
    for point, fstype in mounts:
        point = point.replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fstype
    return kind


def check_output_dir(output_dir: str, info: ClusterInfo) -> None:
    """Every node writes into `output_dir`: on a multi-node cluster it must be an absolute path
    on storage they all mount (NFS, Lustre, a gcsfuse / s3fs bucket ...), or a `tf.io.gfile`
    URI they all reach (`gs://`: each task stages through its node's disk, see `staging`).

    `ram://` is refused even on one node (it is one process's memory, and Ray tasks are other
    processes); a `file://` URI is checked as the local path it names.

    Args:
        output_dir: the `--output_dir` value (`main` has checked a URI's scheme already).
        info: the cluster.

    Raises:
        UserInputError: storage some task would not see.
    """
    if output_dir.startswith("ram://"):
        raise UserInputError(
            f"--output_dir={output_dir}: ram:// is the memory of one process, and Ray tasks run "
            "in others; use a folder or a URI every node reaches (gs://, file:// on a shared mount)"
        )
    path = output_dir[len("file://") :] if output_dir.startswith("file://") else output_dir
    if "://" in path or info.nodes <= 1:
        return
    if not os.path.isabs(path):
        raise UserInputError(
            f"--output_dir={output_dir}: a relative path, but the Ray cluster has {info.nodes} "
            "nodes; give an absolute path on storage every node mounts"
        )
    kind = filesystem_type(path)
    if kind in LOCAL_ONLY_FS:
        raise UserInputError(
            f"--output_dir={output_dir}: on a local {kind} file system, but the Ray cluster has "
            f"{info.nodes} nodes; put it on storage every node mounts (NFS, a bucket mount) or "
            "use a gs:// URI"
        )


def resolve_shares(
    gpus_per_task: float | None, cpus_per_task: float | None, info: ClusterInfo
) -> tuple[float, float]:
    """(GPUs, CPUs) one heavy task asks for. GPUs default to 1 where the cluster has GPUs, else
    0; CPUs to the GPU node's CPUs per GPU times the GPUs asked for, else 1."""
    gpus = gpus_per_task if gpus_per_task is not None else (1.0 if info.max_gpus > 0 else 0.0)
    if gpus < 0:
        raise UserInputError(f"--gpus_per_task={gpus:g}: must be >= 0")
    if gpus > info.max_gpus:
        raise UserInputError(
            f"--gpus_per_task={gpus:g}: no node of the Ray cluster has that many GPUs "
            f"(the largest has {info.max_gpus:g})"
        )
    if cpus_per_task is None:
        cpus = max(1.0, float(int(info.cpus_per_gpu * gpus))) if gpus else 1.0
        cpus = min(cpus, max(info.max_cpus, 1.0))
    else:
        cpus = cpus_per_task
    if cpus <= 0:
        raise UserInputError(f"--cpus_per_task={cpus:g}: must be > 0")
    if cpus > info.max_cpus:
        raise UserInputError(
            f"--cpus_per_task={cpus:g}: no node of the Ray cluster has that many CPUs "
            f"(the largest has {info.max_cpus:g})"
        )
    return gpus, cpus
