"""Which files make a data source's fingerprint: each source kind says so, beside its reader.

The pipeline cache (`poison_tf.dag`) stamps a parameter by the size and mtime of the files it
names, but a `--source` value is a string of the source's own syntax (`yolo:<data.yaml>`,
`coco:<json>:<dir>,<json>:<dir>`, `hackml:val=<h5>,test=<h5>`). An example generator passes
`stamp_files=` a function built here, so the cache knows no data format.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from poison_tf.dag.spec import ExecutionParameter

FilesOf = Callable[[str], list[str]]


def yolo_files(data_yaml: str) -> list[str]:
    """A YOLO data.yaml is stamped by its whole folder (labels and images change, the yaml rarely)."""
    return (
        [os.path.dirname(os.path.abspath(data_yaml))] if os.path.isfile(data_yaml) else [data_yaml]
    )


def coco_files(spec: str) -> list[str]:
    """`<json>:<image_dir>[,<json>:<image_dir>]` → every json and image folder named."""
    files = []
    for part in spec.split(","):
        json_path, _, image_dir = part.rpartition(":")
        files += [p for p in (json_path, image_dir) if p]
    return files


def source_files(value: str, kinds: dict[str, FilesOf] | None = None) -> list[str]:
    """The files or folders behind one `--source` value.

    Args:
        value: a plain path, a built-in source name (stamped as itself: it names no file) or
            `<kind>:<rest>`.
        kinds: source kind → the function listing the files of its `<rest>`; a kind not listed
            is `<kind>:<path>`, stamped by its path.

    Returns:
        Paths whose content makes the source's fingerprint.
    """
    if os.path.exists(value) or ":" not in value:
        return [value]
    kind, _, rest = value.partition(":")
    files_of = (kinds or {}).get(kind)
    return files_of(rest) if files_of else [rest]


def files_of_source(kinds: dict[str, FilesOf] | None = None) -> FilesOf:
    """`source_files` bound to one generator's source kinds (for `ExecutionParameter.stamp_files`)."""

    def files(value: str) -> list[str]:
        return source_files(value, kinds)

    return files


def source_parameter(
    help: str,  # noqa: A002 (the spec's name)
    default: str = "synthetic",
    kinds: dict[str, FilesOf] | None = None,
) -> ExecutionParameter:
    """The `source` parameter of an example generator: a path-like value stamped by its files.

    Args:
        help: the kinds of source the generator reads (the flag's help text).
        default: the built-in source.
        kinds: source kind → the function listing its files (see `source_files`).

    Returns:
        An `is_path` parameter whose cache stamp comes from `files_of_source(kinds)`.
    """
    return ExecutionParameter(
        str, default=default, is_path=True, stamp_files=files_of_source(kinds), help=help
    )
