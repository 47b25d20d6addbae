"""An execution's `work_dir` (a trainer's checkpoints) kept at a URI root, so that a retry on
another node resumes from it.

With a URI pipeline root every node works in its own mirror (`staging`), so the work dir of a
trainer killed on node A (SIGKILL, node lost) is on A's disk only. `WorkDirSync` keeps a copy at
`<uri root>/<component id>/.work/<fp[:16]>/`, beside where the mirror keeps the work dir:

- `save()` runs each time the executor says the work dir holds a complete checkpoint
  (`ExecutorContext.work_saved`). It uploads only the files that changed since the last save
  (size, mtime, inode or, for small files, bytes differ): with `tf.train.CheckpointManager`
  that is the new checkpoint (`ckpt-N.index` and `ckpt-N.data-*`), the small `checkpoint`
  state file and the logs; the checkpoints kept from before are not sent again.
- Object stores cannot rename a folder, and a file rewritten in place (`checkpoint`,
  `history.json`) must not be replaced under a reader, so every upload goes to a fresh folder
  `<copy>/<token>/<file>`, and `manifest.json` (one small object, written through a temporary
  object and a rename) is written last, naming for each file the object that holds it. The
  manifest is the only pointer: an upload cut short leaves objects no manifest names (the
  copy is still the previous complete one, or none), and objects the new manifest no longer
  names (a checkpoint the manager deleted, an old version of a file) are deleted after it.
- `restore()` runs before the executor. This node's work dir is kept when it is the one the
  URI's manifest was made from or with (`.<fp>.sync.json` beside it records that manifest);
  otherwise (empty mirror, or another node got further since) the files the manifest names
  are downloaded into a folder beside it and renamed into place.
- `discard()` deletes the copy at the URI when the execution has finished (as the runner
  deletes the local work dir).

A save that fails (network) is logged and training goes on: the copy at the URI stays the
previous complete one and the next save sends everything changed since then.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import uuid

from absl import logging

from poison_tf.dag import remote_fs

MANIFEST = "manifest.json"


SMALL_FILE = 1 << 20  # bytes; smaller files are also compared by content


def _stat_key(path: str) -> list:
    """What says a file changed: size, mtime, inode (an atomic rewrite has a new one) and, for
    a file under `SMALL_FILE`, a digest of its bytes (mtimes tick in jiffies, so a small file
    rewritten in place at the same size within one tick would look unchanged; checkpoint data
    files are large but are written under new names)."""
    info = os.stat(path)
    key: list = [info.st_size, info.st_mtime_ns, info.st_ino]
    if info.st_size < SMALL_FILE:
        with open(path, "rb") as handle:
            key.append(hashlib.sha256(handle.read()).hexdigest()[:16])
    return key


def _local_files(folder: str) -> dict[str, list]:
    """`/`-separated relative path → `_stat_key` of every file under `folder`."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            found[os.path.relpath(path, folder).replace(os.sep, "/")] = _stat_key(path)
    return found


class WorkDirSync:
    """A work dir mirrored at a URI folder (see the module docstring).

    Args:
        local: the execution's work dir on this node.
        uri: where its copy lives at the URI root.
    """

    def __init__(self, local: str, uri: str):
        self.local, self.uri = local, uri
        self.record_path = os.path.join(
            os.path.dirname(local), f".{os.path.basename(local)}.sync.json"
        )
        self._manifest: dict = {"files": {}}  # what the URI's manifest names (as last seen)
        self._uploaded: dict[str, list] = {}  # stat keys of the files it holds

    def _write_record(self, manifest_text: str) -> None:
        os.makedirs(os.path.dirname(self.record_path), exist_ok=True)
        record = {"manifest": manifest_text, "uploaded": self._uploaded}
        tmp = f"{self.record_path}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "w") as handle:
            json.dump(record, handle)
        os.replace(tmp, self.record_path)

    def restore(self) -> bool:
        """Makes the local work dir the newest complete state there is; returns whether it was
        downloaded from the URI."""
        text = remote_fs.read_text(posixpath.join(self.uri, MANIFEST))
        if text is None:  # nothing complete at the URI: whatever this node has (or nothing)
            return False
        record = {}
        if os.path.isfile(self.record_path):
            with open(self.record_path) as handle:
                record = json.load(handle)
        self._manifest = json.loads(text)
        if os.path.isdir(self.local) and record.get("manifest") == text:
            self._uploaded = record["uploaded"]  # this node's copy is that one, or newer
            return False
        logging.info("resuming %s from its copy at %s", self.local, self.uri)
        files = self._manifest["files"].items()
        remote_fs.download_files(
            {relative: posixpath.join(self.uri, entry["object"]) for relative, entry in files},
            self.local,
            replace=True,
        )
        self._uploaded = _local_files(self.local)
        self._write_record(text)
        return True

    def save(self) -> None:
        """Uploads what changed in the work dir since the last save, then the manifest (see
        the module docstring); a failed upload is logged, not raised."""
        try:
            self._save()
        except Exception as error:  # a transient storage error must not end the training
            logging.warning(
                "%s: copy to %s failed (%s); it keeps the previous one", self.local, self.uri, error
            )

    def _save(self) -> None:
        token = uuid.uuid4().hex[:12]
        now = _local_files(self.local)
        old_files = self._manifest["files"]
        files, sent = {}, 0
        for relative, key in sorted(now.items()):
            if relative in old_files and self._uploaded.get(relative) == key:
                files[relative] = old_files[relative]
                continue
            entry = {"object": f"{token}/{relative}", "size": key[0]}
            source = os.path.join(self.local, *relative.split("/"))
            remote_fs.put_file(source, posixpath.join(self.uri, entry["object"]))
            files[relative], sent = entry, sent + key[0]
        manifest = {"token": token, "files": files}
        text = json.dumps(manifest, sort_keys=True)
        remote_fs.write_text(posixpath.join(self.uri, MANIFEST), text)  # the commit point
        kept = {entry["object"] for entry in files.values()}
        for entry in old_files.values():
            if entry["object"] not in kept:
                remote_fs.remove_file(posixpath.join(self.uri, entry["object"]))
        self._manifest, self._uploaded = manifest, now
        self._write_record(text)
        logging.info("%s: %d bytes sent to %s", self.local, sent, self.uri)

    def discard(self) -> None:
        """Deletes the copy at the URI and this node's record of it (the execution finished)."""
        remote_fs.remove_tree(self.uri)
        if os.path.isfile(self.record_path):
            os.remove(self.record_path)
