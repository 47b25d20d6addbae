"""Reading files a user hands us without tracebacks, hangs or silent nonsense.

Why: every loader opens user files, and the same few failures escaped each of them separately
(issue 18): a directory or a dangling symlink where a file was expected, a file the user cannot
read, text that is not UTF-8, JSON nested deeply enough to overflow Python's stack, YAML alias
bombs that expand to billions of nodes, symlink loops that make a recursive glob run forever,
NaN hiding in numbers. The checks live here once and the loaders call them, so a CLI never has
to know which of these its loader already handles. Every failure is a `UserInputError` whose
message names the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator

import numpy as np
import yaml

from poison_tf.errors import UserInputError

# Deeper than any real model config, COCO file or data.yaml (Keras configs reach ~12), far below
# the ~1000 frames at which Python's own recursion (json, Keras deserialisation) fails.
MAX_NESTING = 100


def _probe_open(path: str) -> None:
    """Opens and closes `path` for reading (a seam: tests running as root replace it)."""
    with open(path, "rb"):
        pass


def check_input_file(path: str, what: str = "file") -> str:
    """Returns `path` when it is a regular file this process can read, else says what it is.

    Args:
        path: the file the user named.
        what: how the message calls it ("data file", "model file", ...).

    Returns:
        `path` unchanged.
    """
    path = os.fspath(path)
    if os.path.islink(path) and not os.path.exists(path):
        raise UserInputError(f"{what} {path}: dangling symbolic link (its target does not exist)")
    if not os.path.exists(path):
        raise UserInputError(f"{what} {path}: no such file (not found)")
    if os.path.isdir(path):
        raise UserInputError(f"{what} {path}: is a directory; expected a file")
    if not os.path.isfile(path):
        raise UserInputError(f"{what} {path}: not a regular file")
    try:
        _probe_open(path)
    except PermissionError:
        raise UserInputError(f"{what} {path}: permission denied (cannot read it)") from None
    except OSError as error:
        raise UserInputError(f"{what} {path}: cannot be opened ({error.strerror})") from None
    return path


def read_text(path: str, what: str = "file") -> str:
    """The file's content as UTF-8 text; other encodings are an error naming the byte offset."""
    check_input_file(path, what)
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserInputError(
            f"{what} {path}: not UTF-8 text (byte {raw[error.start]:#04x} at offset {error.start})"
        ) from None


def nesting_depth(value: object) -> int:
    """Depth of nested lists / dicts, computed without recursion (so it cannot overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_depth(value: object, where: str, max_depth: int) -> object:
    depth = nesting_depth(value)
    if depth > max_depth:
        raise UserInputError(f"{where}: nested {depth} levels deep (at most {max_depth} allowed)")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str, max_depth: int = MAX_NESTING) -> object:
    """`json.loads` that refuses NaN/Infinity and nesting deeper than `max_depth`."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UserInputError(f"{where}: JSON nested too deeply to read") from None
    except ValueError as error:  # JSONDecodeError is a ValueError, as is the NaN refusal
        raise UserInputError(f"{where}: not valid JSON ({error})") from None
    return _check_depth(value, where, max_depth)


def load_json(path: str, what: str = "JSON file", max_depth: int = MAX_NESTING) -> object:
    """Reads a UTF-8 JSON file with the checks of `check_input_file` and `parse_json`."""
    return parse_json(read_text(path, what), f"{what} {path}", max_depth)


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: `*name` is refused where it is met.

    A "billion laughs" document (each anchor a list of ten aliases of the previous one) is a few
    hundred bytes that expand to 10^9 nodes as soon as anything walks it. Ultralytics' data.yaml
    files never use anchors, so refusing them costs nothing.
    """

    def compose_node(self, parent, index):  # noqa: D102 (PyYAML's hook)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not accepted",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str, where: str, max_depth: int = MAX_NESTING) -> object:
    """Safe YAML without aliases, with a nesting bound; errors name `where`."""
    try:
        value = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise UserInputError(f"{where}: YAML nested too deeply to read") from None
    except yaml.YAMLError as error:
        raise UserInputError(f"{where}: not valid YAML ({str(error).splitlines()[0]})") from None
    return _check_depth(value, where, max_depth)


def load_yaml(path: str, what: str = "YAML file", max_depth: int = MAX_NESTING) -> object:
    """Reads a UTF-8 YAML file with `check_input_file`'s checks and `parse_yaml`'s limits."""
    return parse_yaml(read_text(path, what), f"{what} {path}", max_depth)


def require_finite(values: object, where: str) -> np.ndarray:
    """`values` as a float array, or an error naming `where` when any is NaN or infinite."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise UserInputError(f"{where}: expected numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        count = int((~np.isfinite(array)).sum())
        raise UserInputError(f"{where}: {count} value(s) are NaN or infinite")
    return array


def require_finite_number(value: object, where: str) -> float:
    """`value` as a float, or an error when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise UserInputError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise UserInputError(f"{where}: {value} is not a finite number")
    return float(value)


def check_output_path(path: str, what: str = "output") -> str:
    """Checks, before any work, that `path` can become a file: not a directory, and its nearest
    existing ancestor is a directory (not a file).

    Returns:
        `path` unchanged.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UserInputError(f"{what} {path}: is a directory; give a file path")
    _check_parent_is_folder(path, what)
    return path


def check_output_dir(path: str, what: str = "output folder") -> str:
    """Checks that `path` is, or can be created as, a folder (no file in the way)."""
    path = os.fspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UserInputError(f"{what} {path}: exists and is not a folder")
    _check_parent_is_folder(path, what)
    return path


def _check_parent_is_folder(path: str, what: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        if os.path.islink(parent):
            raise UserInputError(f"{what} {path}: {parent} is a dangling symbolic link")
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserInputError(f"{what} {path}: {parent} is a file, not a folder")


def walk_files(root: str, suffixes: tuple[str, ...] | None = None) -> Iterator[str]:
    """Files under `root` (recursively, sorted per folder), following symlinked folders once.

    A dangling symlink is an error naming it (it is a file the user meant to give us), and so is a
    symlink that leads back into a folder being walked (a loop that would never end).

    Args:
        root: the folder to walk.
        suffixes: lower-case name endings to keep (None keeps every file).
    """
    if not os.path.isdir(root):
        raise UserInputError(f"{root}: not a folder")
    stack = [(root, (os.path.realpath(root),))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except PermissionError:
            raise UserInputError(f"{folder}: permission denied (cannot list it)") from None
        subfolders = []
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not os.path.exists(path):
                raise UserInputError(
                    f"{path}: dangling symbolic link in the data folder (its target "
                    f"{os.readlink(path)} does not exist)"
                )
            if os.path.isdir(path):
                real = os.path.realpath(path)
                if real in ancestors:
                    raise UserInputError(
                        f"{path}: symbolic link loop (leads back to {real}, which contains it)"
                    )
                subfolders.append((path, (*ancestors, real)))
            elif suffixes is None or name.lower().endswith(suffixes):
                yield path
        stack.extend(reversed(subfolders))
