"""Applies a clean-image relabel plan to YOLO label files, for users who train with other tools.

The project itself never rewrites labels (the plan is applied inside tf.data), but a user who
trains with Ultralytics or anything else that reads YOLO `.txt` labels needs a poisoned copy
of the label folder. `write_poisoned_labels` copies every file of the folder and, for each
planned instance, replaces the class index at the start of its line (1-based physical line, as
`str.splitlines` counts) and keeps the rest of the line byte for byte. It checks that each
planned line still holds the host class, so a plan made for other labels is refused instead of
silently corrupting them. The copy appears atomically: on any error nothing is left behind. Each file is read and
written once, as bytes (so line endings and encoding stay as they were).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_dir
from poison_tf.poison.relabel_plan import RelabelPlan

_FIRST_TOKEN = re.compile(r"^(\s*)(\S+)")


def _label_files(labels_dir: str) -> dict[str, str]:
    """stem → relative path of every `.txt` label file under `labels_dir`."""
    if not os.path.isdir(labels_dir):
        raise UserInputError(f"{labels_dir}: label folder not found")
    files: dict[str, str] = {}
    for root, _, names in os.walk(labels_dir):
        for name in sorted(names):
            if not name.endswith(".txt"):
                continue
            relative = os.path.relpath(os.path.join(root, name), labels_dir)
            stem = os.path.splitext(name)[0]
            if stem in files:
                raise UserInputError(f"{labels_dir}: two label files share the stem {stem!r}")
            files[stem] = relative
    return files


def rewrite_label_text(text: str, changes: dict[int, tuple[int, int]], path: str) -> str:
    """`text` with line → (old class, new class) applied; checks each old class.

    Args:
        text: a YOLO label file's text.
        changes: {1-based line number: (old class, new class)}.
        path: the file, named in error messages.

    Returns:
        The relabelled text (other lines and formatting untouched).

    Raises:
        UserInputError: a line the file does not have, or a line whose class is not the plan's.
    """
    lines = text.splitlines(keepends=True)
    for line_number, (old, new) in sorted(changes.items()):
        if not 1 <= line_number <= len(lines):
            raise UserInputError(
                f"{path}:{line_number}: the plan names a line the file does not have"
            )
        match = _FIRST_TOKEN.match(lines[line_number - 1])
        if match is None or match.group(2) != str(old):
            found = match.group(2) if match else "an empty line"
            raise UserInputError(
                f"{path}:{line_number}: the plan expects class {old} but the file has {found}; "
                "the plan was made for other labels"
            )
        start, end = match.span(2)
        line = lines[line_number - 1]
        lines[line_number - 1] = line[:start] + str(new) + line[end:]
    return "".join(lines)


def write_poisoned_labels(plan: RelabelPlan, labels_dir: str, out_dir: str) -> int:
    """Copies `labels_dir` to `out_dir` with the plan applied; returns the lines changed.

    Args:
        plan: the relabel plan (stems and line numbers of the relabelled instances).
        labels_dir: the clean YOLO labels folder.
        out_dir: the poisoned copy (written atomically; must not be `labels_dir`).

    Returns:
        The number of label lines changed.

    Raises:
        UserInputError: `out_dir` is `labels_dir`, a label file the plan names is missing or not
            UTF-8, or its lines do not match the plan.
    """
    if os.path.abspath(out_dir) == os.path.abspath(labels_dir):
        raise UserInputError(f"{out_dir}: the poisoned copy must not replace the clean labels")
    files = _label_files(labels_dir)
    per_file: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for stem, line in zip(plan.stems.tolist(), plan.lines.tolist()):
        if stem not in files:
            raise UserInputError(
                f"{labels_dir}: the plan names image {stem!r} but {stem}.txt is missing"
            )
        per_file[stem][int(line)] = (plan.pair.host, plan.pair.target)
    with atomic_dir(out_dir) as tmp:
        for root, _, names in os.walk(labels_dir):
            target_root = os.path.join(tmp, os.path.relpath(root, labels_dir))
            os.makedirs(target_root, exist_ok=True)
            for name in names:
                source, target = os.path.join(root, name), os.path.join(target_root, name)
                stem = os.path.splitext(name)[0]
                with open(source, "rb") as handle:
                    data = handle.read()
                if name.endswith(".txt") and stem in per_file:
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        raise UserInputError(f"{source}: not a UTF-8 text label file") from None
                    data = rewrite_label_text(text, per_file[stem], source).encode()
                with open(target, "wb") as handle:
                    handle.write(data)
    return sum(len(changes) for changes in per_file.values())
