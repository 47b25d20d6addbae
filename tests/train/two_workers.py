"""Starts two MultiWorkerMirroredStrategy workers of tiny_task.py on 127.0.0.1 and waits.

argv: out_dir epochs. Writes out_dir/w0.npz, w1.npz (+ .json) and out_dir/model; exits 0 only
if both workers did. A worker still running at the deadline, or after the other failed, is
killed, so no server outlives the launcher.

TensorFlow's gRPC server binds 0.0.0.0:<port> whatever host TF_CONFIG names (hard-coded in
grpc_server_lib.cc), so the test runs this launcher inside a private network namespace
(`unshare -rn`, where the only device is loopback) when the system allows it; see
test_multiprocess.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(out_dir: str, epochs: str, timeout_s: float = 300.0) -> int:
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = []
    try:
        for index in range(2):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            args = ["multi_worker", os.path.join(out_dir, "model")]
            args += [os.path.join(out_dir, f"w{index}.npz"), epochs]
            procs.append(
                subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "tiny_task.py"), *args],
                    env=dict(os.environ, TF_CONFIG=json.dumps(tf_config)),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.time() + timeout_s
        while time.time() < deadline and any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: the other would wait for it forever
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        outputs = [p.communicate()[0].decode(errors="replace")[-3000:] for p in procs]
    codes = [p.returncode for p in procs]
    if codes != [0, 0]:
        sys.stderr.write(f"worker exit codes {codes}\n" + "\n----\n".join(outputs))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
