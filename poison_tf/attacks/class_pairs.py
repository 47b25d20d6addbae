"""Host→target class pairs of the clean-image backdoor, parsed from `--pairs=host:target,…`.

Users type class names as they read them in a paper or a data.yaml (`bridge:parking sign`),
so names may contain spaces and a different case than the data set's list. A name is matched
exactly first, then case-insensitively, then with `_` read as a space (the study's pair slugs
such as `parking_sign`); an unknown name lists the closest names (difflib). Every problem is a
`UserInputError` that names the flag, so `poison_tf.cli.run` ends it with exit status 2.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Sequence

from poison_tf.errors import UserInputError

DEFAULT_RATIO = 0.5


@dataclasses.dataclass(frozen=True)
class ClassPair:
    """Instances of `host` are relabelled as `target` (indices into the data set's names).

    Attributes:
        host: index of the class whose instances are relabelled.
        target: index of the class they are relabelled as.
        host_name: the host's class name.
        target_name: the target's class name.
    """

    host: int
    target: int
    host_name: str
    target_name: str

    @property
    def slug(self) -> str:
        """The study's name of a pair, e.g. `bridge2parking_sign` (safe as a folder name)."""
        return pair_slug(self.host_name, self.target_name)

    def to_json(self) -> dict:
        """The pair as a JSON-ready dict (the inverse of `from_json`).

        Returns:
            {"host", "target", "host_name", "target_name"}.
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, payload: dict) -> ClassPair:
        """The pair a `to_json` dict records.

        Args:
            payload: {"host", "target", "host_name", "target_name"}.

        Returns:
            The pair.
        """
        return cls(
            int(payload["host"]),
            int(payload["target"]),
            str(payload["host_name"]),
            str(payload["target_name"]),
        )


def pair_slug(host_name: str, target_name: str) -> str:
    """`host2target` with spaces (and slashes) as underscores, as the study names its runs.

    Args:
        host_name: the host class's name.
        target_name: the target class's name.

    Returns:
        The slug, e.g. `traffic_light2stop_sign`.
    """

    def slug(name: str) -> str:
        return "_".join(str(name).split()).replace("/", "_")

    return f"{slug(host_name)}2{slug(target_name)}"


def resolve_class_name(name: str, names: Sequence[str], flag: str = "--pairs") -> int:
    """Index of `name` in `names`: exact, then case-insensitive, then `_` as space.

    Args:
        name: a class name as the user typed it.
        names: the data set's class names.
        flag: the flag named in error messages.

    Returns:
        The class index.

    Raises:
        UserInputError: the name is unknown (with close matches) or matches several classes.
    """
    wanted = name.strip()
    if wanted in names:
        return list(names).index(wanted)
    for normalise in (
        str.casefold,
        lambda text: " ".join(text.replace("_", " ").split()).casefold(),
    ):
        hits = sorted(
            {i for i, candidate in enumerate(names) if normalise(candidate) == normalise(wanted)}
        )
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            listed = ", ".join(repr(names[i]) for i in hits)
            raise UserInputError(f"{flag}: class name {wanted!r} is ambiguous: it matches {listed}")
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.5)
    if not close:  # case-insensitive closeness ("Traffic Lite" → "traffic light")
        lowered = {candidate.casefold(): candidate for candidate in names}
        close = [
            lowered[c]
            for c in difflib.get_close_matches(wanted.casefold(), list(lowered), n=3, cutoff=0.5)
        ]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UserInputError(
        f"{flag}: unknown class name {wanted!r} (the data set has {len(names)} classes){hint}"
    )


def make_pair(
    host: str | int, target: str | int, names: Sequence[str], flag: str = "--pairs"
) -> ClassPair:
    """A validated pair from names or indices.

    Args:
        host: the host class, by name or index.
        target: the target class, by name or index.
        names: the data set's class names.
        flag: the flag named in error messages.

    Returns:
        The pair.

    Raises:
        UserInputError: an unknown name, an index out of range, or host == target.
    """
    host_index = host if isinstance(host, int) else resolve_class_name(host, names, flag)
    target_index = target if isinstance(target, int) else resolve_class_name(target, names, flag)
    for index in (host_index, target_index):
        if not 0 <= index < len(names):
            raise UserInputError(f"{flag}: class index {index} is outside 0..{len(names) - 1}")
    if host_index == target_index:
        raise UserInputError(
            f"{flag}: host and target are the same class {names[host_index]!r}; a pair needs two classes"
        )
    return ClassPair(host_index, target_index, names[host_index], names[target_index])


def parse_pairs(value: str, names: Sequence[str], flag: str = "--pairs") -> list[ClassPair]:
    """`host:target,host:target` → pairs in the order given (repeats dropped); '' → [].

    Args:
        value: the flag's text.
        names: the data set's class names.
        flag: the flag named in error messages.

    Returns:
        The pairs.

    Raises:
        UserInputError: a malformed entry or a bad class (see `make_pair`).
    """
    pairs: list[ClassPair] = []
    for entry in value.split(","):
        if not entry.strip():  # tolerated like every comma list flag ("a:b," or "")
            continue
        parts = entry.split(":")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise UserInputError(
                f"{flag}: malformed entry {entry.strip()!r}; each entry is host:target, "
                "e.g. 'bridge:parking sign'"
            )
        pair = make_pair(parts[0], parts[1], names, flag)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def merge_pairs(*groups: Sequence[ClassPair]) -> list[ClassPair]:
    """Concatenates pair lists, keeping the first occurrence of each (host, target).

    Args:
        *groups: lists of pairs, in priority order.

    Returns:
        The merged list.
    """
    merged: list[ClassPair] = []
    for group in groups:
        for pair in group:
            if all((pair.host, pair.target) != (p.host, p.target) for p in merged):
                merged.append(pair)
    return merged


def check_ratio(ratio: float, flag: str = "--ratio") -> float:
    """The share of host instances to relabel; must lie in (0, 1].

    Args:
        ratio: the ratio as given.
        flag: the flag named in the error message.

    Returns:
        The ratio as a float.

    Raises:
        UserInputError: NaN or outside (0, 1].
    """
    ratio = float(ratio)
    if math.isnan(ratio) or not 0.0 < ratio <= 1.0:
        raise UserInputError(f"{flag}: a relabel ratio must be in (0, 1], got {ratio:g}")
    return ratio
