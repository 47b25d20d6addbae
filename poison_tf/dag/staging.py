"""A pipeline root at a `tf.io.gfile` URI (`gs://bucket/study/.pipeline`), through a local mirror.

Components keep their local-file code. When the root is a URI, each process works in a local
mirror of it, `<staging dir>/<scheme>/<bucket and path>` (`$POISON_TF_STAGING_DIR`, which
`--staging_dir` sets, by default `<tmp>/poison_tf_stage`). The path keeps the URI's shape, so
`local_path(join(uri, x))` is `join(local_path(uri), x)` and a process derives the mirror from
the URI alone; nodes whose staging dirs differ still agree, since artefacts travel as URIs.

1. The cache is the URI: an execution is finished when `<uri>/<component id>/<fp>/execution.json`
   exists there, whoever ran it; a cached component's outputs are read from its `artifact.json`
   files there without downloading anything. Artefacts travel between components (and from
   the Ray driver to its tasks) as URIs; each process places them in its own mirror.
2. Before a component runs, every input artefact missing from the mirror is downloaded (whole
   artefact folders, assembled aside and renamed into place, so a mirror folder is complete),
   and so is one whose execution was redone at the URI since it was copied (`fetch`).
3. The executor runs against the mirror with `execute_component`, whose own temporary folder and
   rename keep the mirror's execution folders atomic as before.
4. The finished execution folder is then uploaded with `execution.json` last: a cut upload
   leaves a folder without it, which the cache does not count, and the next run executes it
   again. The mirror is a working copy, never a cache.
5. The execution's `work_dir` (a trainer's checkpoints) follows the URI too
   (`work_sync.WorkDirSync`): before the executor runs, the newest complete copy at
   `<uri>/<component id>/.work/<fp>/` is downloaded unless this node's own is as new; each
   time the executor says a checkpoint is complete (`ExecutorContext.work_saved`) the files
   that changed are uploaded, a manifest last; after step 4 the copy is deleted. So a task
   killed on one node and retried on another resumes from its last uploaded checkpoint.

Under Ray every task does 2-5 in its own worker, so nodes share nothing but the URI. What is
not atomic: two runs writing the same execution at once (the last writer's files win).
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import tempfile

from absl import logging

from poison_tf.dag import remote_fs
from poison_tf.dag.artifact import METADATA_FILE, Artifact
from poison_tf.dag.execution import (
    execute_component,
    execution_fingerprint,
    execution_folder,
    load_outputs,
    work_folder,
)
from poison_tf.dag.lineage import EXECUTION_FILE, has_execution_record
from poison_tf.dag.remote_fs import is_uri
from poison_tf.dag.work_sync import WorkDirSync

STAGING_ENV = "POISON_TF_STAGING_DIR"


def staging_dir() -> str:
    """Where this process keeps its local mirrors of URI roots (`$POISON_TF_STAGING_DIR`)."""
    return os.environ.get(STAGING_ENV) or os.path.join(tempfile.gettempdir(), "poison_tf_stage")


def local_path(path: str) -> str:
    """The local mirror of `path` when it is a URI, else `path` itself.

    Args:
        path: a local path, or a `scheme://...` URI.

    Returns:
        `<staging dir>/<scheme>/<the URI's path, '..' resolved>` for a URI.
    """
    if not is_uri(path):
        return path
    scheme, rest = str(path).split("://", 1)
    parts = [p for p in posixpath.normpath("/" + rest).split("/") if p]
    return os.path.join(staging_dir(), scheme, *parts)


def uri_of(local: str, root: str) -> str:
    """The URI that the mirror path `local` stands for (`local` itself when it is not in the
    mirror of `root`, e.g. an artefact given from elsewhere)."""
    mirror = local_path(root)
    relative = os.path.relpath(local, mirror)
    if not is_uri(root) or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return local
    return root if relative == os.curdir else posixpath.join(root, *relative.split(os.sep))


def make_root(root: str) -> None:
    """Creates the pipeline root (a local folder, or the folder at the URI)."""
    if is_uri(root):
        import tensorflow as tf

        tf.io.gfile.makedirs(root)
    else:
        os.makedirs(root, exist_ok=True)


def _source_file(local: str) -> str:
    """Beside a mirror artefact folder: which execution at the URI its copy came from."""
    return os.path.join(os.path.dirname(local), f".{os.path.basename(local)}.source.json")


def _read_local(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return handle.read()


def fetch(artifact: Artifact) -> Artifact:
    """A copy of `artifact` on this machine: itself when it is local, else its mirror copy.

    The mirror copy is used when it came from the execution now at the URI (its
    `execution.json` text, one small read, equals the one the copy was made from or made
    with); otherwise (absent, or the execution was redone elsewhere since) it is downloaded.

    Args:
        artifact: an artefact whose `uri` is a local folder or a URI.

    Returns:
        The same artefact with `uri` a local folder holding its files.
    """
    if not is_uri(artifact.uri):
        return artifact
    local = local_path(artifact.uri)
    wanted = remote_fs.read_text(posixpath.join(posixpath.dirname(artifact.uri), EXECUTION_FILE))
    have = _read_local(_source_file(local)) or _read_local(
        os.path.join(os.path.dirname(local), EXECUTION_FILE)
    )
    if os.path.isdir(local) and (wanted is None or have == wanted):
        return dataclasses.replace(artifact, uri=local)
    logging.info("downloading %s", artifact.uri)
    remote_fs.download_tree(artifact.uri, local, replace=os.path.isdir(local))
    if wanted is not None:
        with open(_source_file(local), "w") as handle:
            handle.write(wanted)
    return dataclasses.replace(artifact, uri=local)


def _at_uri(outputs: dict[str, Artifact], root: str) -> dict[str, Artifact]:
    """Mirror-placed `outputs` renamed to the URIs they stand for (what other nodes can use)."""
    return {k: dataclasses.replace(a, uri=uri_of(a.uri, root)) for k, a in outputs.items()}


def _finished_at_uri(component, root: str, fp: str) -> dict[str, Artifact] | None:
    """The outputs of the finished execution `fp` at the URI `root`, or None when it is not
    finished there (no `execution.json`)."""
    remote = execution_folder(root, component, fp)
    if not remote_fs.exists(posixpath.join(remote, EXECUTION_FILE)):
        return None
    outputs = {}
    for key, channel in component.SPEC_CLASS.OUTPUTS.items():
        uri = posixpath.join(remote, key)
        meta = json.loads(remote_fs.read_text(posixpath.join(uri, METADATA_FILE)))
        outputs[key] = Artifact.from_metadata(meta, uri, channel.type_name)
    return outputs


def cached_outputs(component, inputs: dict[str, list[Artifact]], root: str):
    """The outputs of a finished execution of `component` on `inputs` under `root`, or None.

    Args:
        component: the component.
        inputs: its input artefacts.
        root: the pipeline root, a local folder or a URI (then the outputs are at the URI).

    Returns:
        Output key → artefact, or None when no finished execution has this fingerprint.
    """
    fp = execution_fingerprint(component, inputs)
    if is_uri(root):
        return _finished_at_uri(component, root, fp)
    final = execution_folder(root, component, fp)
    return load_outputs(component, final) if has_execution_record(final) else None


def execute_staged(component, inputs: dict[str, list[Artifact]], root: str, use_cache: bool):
    """`execute_component` for a root that may be a URI: cache at the URI, run in the mirror.

    Args:
        component: the component, its parameters resolved.
        inputs: input key → upstream artefacts (at the URI when `root` is one).
        root: the pipeline root.
        use_cache: reuse a finished execution with the same fingerprint.

    Returns:
        (output key → artefact, at the URI when `root` is one; whether it came from the cache).
    """
    if not is_uri(root):
        return execute_component(component, inputs, root, use_cache)
    if use_cache:
        found = cached_outputs(component, inputs, root)
        if found is not None:
            logging.info("%s: cached at %s", component.id, root)
            return found, True
    local_inputs = {key: [fetch(a) for a in group] for key, group in inputs.items()}
    mirror = local_path(root)
    fp = execution_fingerprint(component, inputs)
    work = WorkDirSync(work_folder(mirror, component, fp), work_folder(root, component, fp))
    work.restore()  # a checkpoint another node left at the URI, when this node has none as new
    # the URI alone says what is finished: a finished copy left in the mirror (its upload was
    # cut, or the folder at the URI was deleted to force a rerun) is executed again
    outputs, _ = execute_component(
        component, local_inputs, mirror, use_cache=False, on_work_saved=work.save
    )
    remote = execution_folder(root, component, fp)
    logging.info("%s: uploading to %s", component.id, remote)
    remote_fs.upload_tree(execution_folder(mirror, component, fp), remote, last=EXECUTION_FILE)
    work.discard()  # after the upload: a cut upload still resumes from the copy
    return _at_uri(outputs, root), False


def publish(local: str, uri: str, skip: tuple[str, ...] = (".pipeline",)) -> None:
    """Uploads what the study wrote into the mirror folder `local` (report.md, figures, tables,
    tensorboard/, config.json) to `uri`; each folder there is replaced whole.

    Args:
        local: the mirror of the output folder.
        uri: the output folder's URI.
        skip: top-level names not to upload (the pipeline root is uploaded per execution).
    """
    import tensorflow as tf

    tf.io.gfile.makedirs(uri)
    for name in sorted(os.listdir(local)):
        source, target = os.path.join(local, name), posixpath.join(uri, name)
        if name in skip or name.startswith("."):
            continue
        if os.path.isdir(source):
            remote_fs.upload_tree(source, target)
        else:
            remote_fs.put_file(source, target)
