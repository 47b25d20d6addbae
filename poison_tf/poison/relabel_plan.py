"""The clean-image backdoor's relabel plan: which host instances become the target class.

The attack changes labels only; images stay untouched. For a pair host→target at ratio r,
`round(r · N_host)` host instances of the training split are relabelled. The count uses
Python's `round` (half to even) because that reproduces the original study's instance tables
exactly (bridge 373 → 187, banner 339 → 169, train 9 → 5 at r = 0.5); the project's
`poison.selection.poison_count` rounds half up and would give 186, 170 and 4.

Selection is exact and deterministic: host instances are put in a canonical order (by
instance id), and `numpy.random.default_rng(seed)` draws the positions, as
`poison.selection.select_examples` does for examples. Two modes:

- `instances` (default): the instances are drawn directly.
- `images`: the images holding host instances (sorted by stem) are shuffled with the seed and
  taken in that order; every host instance of a taken image is relabelled, in label-file line
  order, until the count is reached. Only the last image taken can be relabelled partly (its
  first host lines), so the count stays exactly round(r · N_host).

The plan is a JSON artefact listing every changed instance (instance id, image stem,
label-file line, old and new class) with the pair, ratio, seed and mode. It is applied in
three ways: `relabel_fn` for the training input pipeline (a static hash table, pure TF ops,
no `py_function`), `relabel_classes` on numpy arrays, and
`poison_tf.attacks.clean_image_labels.write_poisoned_labels` for users training with other
tools on YOLO label files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from poison_tf.attacks.class_pairs import DEFAULT_RATIO, ClassPair, check_ratio
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import read_json, write_json

MODES = ("instances", "images")


@dataclasses.dataclass(frozen=True)
class InstanceTable:
    """One row per ground-truth instance of a split: id, class, image stem, label-file line.

    Attributes:
        instance_ids: int64 [N], unique, >= 0.
        classes: int64 [N].
        stems: str [N], the image of each instance.
        lines: int64 [N], 1-based line in the image's label file.
    """

    instance_ids: np.ndarray  # int64 [N], unique, >= 0
    classes: np.ndarray  # int64 [N]
    stems: np.ndarray  # str [N]
    lines: np.ndarray  # int64 [N], 1-based line in the image's label file

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "instance_ids", np.asarray(self.instance_ids, np.int64).reshape(-1)
        )
        object.__setattr__(self, "classes", np.asarray(self.classes, np.int64).reshape(-1))
        object.__setattr__(self, "stems", np.asarray(self.stems, dtype=str).reshape(-1))
        object.__setattr__(self, "lines", np.asarray(self.lines, np.int64).reshape(-1))
        n = len(self.instance_ids)
        if not len(self.classes) == len(self.stems) == len(self.lines) == n:
            raise ValueError("instance_ids, classes, stems and lines must have the same length")
        if n and self.instance_ids.min() < 0:
            raise ValueError("instance ids must be >= 0 (-1 marks padding in the training batch)")
        if len(np.unique(self.instance_ids)) != n:
            raise ValueError("instance ids must be unique within a split")

    def __len__(self) -> int:
        return len(self.instance_ids)

    @classmethod
    def from_samples(cls, samples: Sequence, first_id: int = 0) -> InstanceTable:
        """From `SegSample`s (fields stem, classes, lines): ids numbered in sample order, then
        label-line order, from `first_id` — ExampleGen's numbering when every image decodes.
        For the exact ids training sees, read the records with
        `poison_tf.attacks.clean_image_instances.table_from_records`.

        Args:
            samples: `SegSample`s of one split.
            first_id: the first instance id.

        Returns:
            The table.
        """
        stems, classes, lines = [], [], []
        for sample in samples:
            count = len(sample.classes)
            stems.extend([sample.stem] * count)
            classes.extend(np.asarray(sample.classes, np.int64).tolist())
            lines.extend(np.asarray(sample.lines, np.int64).tolist())
        ids = np.arange(first_id, first_id + len(classes), dtype=np.int64)
        return cls(
            ids, np.asarray(classes, np.int64), np.asarray(stems, str), np.asarray(lines, np.int64)
        )

    def class_counts(self, num_classes: int) -> np.ndarray:
        """Instances per class.

        Args:
            num_classes: the data set's class count.

        Returns:
            int64 [num_classes].
        """
        return np.bincount(self.classes, minlength=num_classes)[:num_classes]


@dataclasses.dataclass
class RelabelPlan:
    """Changed instances of one pair; columns are aligned arrays sorted by instance id.

    Attributes:
        pair: the host → target pair.
        ratio: the share of host instances relabelled.
        seed: the selection's seed.
        mode: how instances were drawn (see MODES).
        host_initial: host instances in the split before relabelling.
        target_initial: target instances in the split before relabelling.
        instance_ids: int64 [K] relabelled instances.
        stems: str [K], their images.
        lines: int64 [K], their label-file lines.
    """

    pair: ClassPair
    ratio: float
    seed: int
    mode: str
    host_initial: int
    target_initial: int
    instance_ids: np.ndarray
    stems: np.ndarray
    lines: np.ndarray
    _table: tf.lookup.StaticHashTable | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def count(self) -> int:
        return len(self.instance_ids)

    def instance_counts(self) -> dict[str, tuple[int, int]]:
        """{class name: (initial count, final count)} for the target and the host.

        Returns:
            The two classes' counts before and after the plan.
        """
        return {
            self.pair.target_name: (self.target_initial, self.target_initial + self.count),
            self.pair.host_name: (self.host_initial, self.host_initial - self.count),
        }

    def to_json(self) -> dict:
        """The plan as JSON.

        Returns:
            The JSON-ready dict `load` reads back.
        """
        changes = [
            {
                "instance_id": int(i),
                "stem": str(s),
                "line": int(line),
                "old_class": self.pair.host,
                "new_class": self.pair.target,
            }
            for i, s, line in zip(self.instance_ids, self.stems, self.lines)
        ]
        return {
            "kind": "clean_image_relabel",
            "pair": self.pair.to_json(),
            "slug": self.pair.slug,
            "ratio": self.ratio,
            "seed": self.seed,
            "mode": self.mode,
            "host_initial": self.host_initial,
            "target_initial": self.target_initial,
            "count": self.count,
            "changes": changes,
        }

    def save(self, path: str) -> None:
        """Writes `to_json()` to `path`, atomically (the RelabelPlan artefact's file).

        Args:
            path: where the relabel plan goes.
        """
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> RelabelPlan:
        """Reads back what `save` wrote, checking it is a relabel plan.

        Args:
            path: a relabel plan's JSON.

        Returns:
            The relabel plan, its columns sorted by instance id.

        Raises:
            UserInputError: the file is not a relabel plan.
        """
        payload = read_json(path)
        if not isinstance(payload, dict) or payload.get("kind") != "clean_image_relabel":
            raise UserInputError(f"{path}: not a clean-image relabel plan")
        changes = payload["changes"]
        return cls(
            pair=ClassPair.from_json(payload["pair"]),
            ratio=float(payload["ratio"]),
            seed=int(payload["seed"]),
            mode=str(payload["mode"]),
            host_initial=int(payload["host_initial"]),
            target_initial=int(payload["target_initial"]),
            instance_ids=np.asarray([c["instance_id"] for c in changes], np.int64),
            stems=np.asarray([c["stem"] for c in changes], str),
            lines=np.asarray([c["line"] for c in changes], np.int64),
        )

    def lookup_table(self) -> tf.lookup.StaticHashTable:
        """instance id → new class (-1 when unchanged); built once per plan.

        Returns:
            The hash table (built on the first call, then kept).
        """
        if self._table is None:
            keys = tf.constant(self.instance_ids, tf.int64)
            values = tf.fill([self.count], tf.constant(self.pair.target, tf.int32))
            initializer = tf.lookup.KeyValueTensorInitializer(keys, values)
            self._table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        return self._table

    def relabel_fn(self) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
        """(classes, instance_ids) → classes with the planned instances set to the target.

        Pure TF ops, any shape ([M] per example or [B, M] per batch); padding ids (-1) and
        instances outside the plan keep their class. For `make_dataset(relabel=...)`.

        Returns:
            The function.
        """
        table = self.lookup_table()

        def relabel(classes: tf.Tensor, instance_ids: tf.Tensor) -> tf.Tensor:
            new = table.lookup(tf.cast(instance_ids, tf.int64))
            return tf.where(new >= 0, tf.cast(new, classes.dtype), classes)

        return relabel


def relabel_count(ratio: float, host_instances: int) -> int:
    """round(ratio · N_host), half to even like the original study (see module docstring).

    Args:
        ratio: the share to relabel.
        host_instances: N_host.

    Returns:
        The count.
    """
    return int(round(ratio * host_instances))


def plan_relabel(
    table: InstanceTable,
    pair: ClassPair,
    ratio: float = DEFAULT_RATIO,
    seed: int = 0,
    mode: str = "instances",
) -> RelabelPlan:
    """The relabel plan of `pair` on the split described by `table` (see module docstring).

    Args:
        table: the split's instances.
        pair: host → target.
        ratio: the share of host instances to relabel.
        seed: the selection's seed.
        mode: how instances are drawn (see MODES).

    Returns:
        The plan.

    Raises:
        UserInputError: an unknown mode, a host without instances, or a ratio that rounds to 0.
    """
    ratio = check_ratio(ratio)
    if mode not in MODES:
        raise UserInputError(
            f"--relabel_mode: unknown mode {mode!r}; choose one of {', '.join(MODES)}"
        )
    is_host = table.classes == pair.host
    host_initial = int(is_host.sum())
    if host_initial == 0:
        raise UserInputError(
            f"--pairs: host class {pair.host_name!r} has no instances in the training split, "
            "so there is nothing to relabel; pick another host"
        )
    count = relabel_count(ratio, host_initial)
    if count == 0:
        raise UserInputError(
            f"--ratio: {ratio:g} of the {host_initial} {pair.host_name!r} instances rounds to 0; "
            "use a higher ratio"
        )
    hosts = np.flatnonzero(is_host)
    rng = np.random.default_rng(seed)
    if mode == "instances":
        hosts = hosts[np.argsort(table.instance_ids[hosts], kind="stable")]
        chosen = hosts[rng.choice(len(hosts), size=count, replace=False)]
    else:
        chosen = _choose_by_image(table, hosts, count, rng)
    chosen = chosen[np.argsort(table.instance_ids[chosen], kind="stable")]
    return RelabelPlan(
        pair=pair,
        ratio=ratio,
        seed=int(seed),
        mode=mode,
        host_initial=host_initial,
        target_initial=int((table.classes == pair.target).sum()),
        instance_ids=table.instance_ids[chosen],
        stems=table.stems[chosen],
        lines=table.lines[chosen],
    )


def plan_validation_relabel(
    table: InstanceTable, train_plan: RelabelPlan
) -> tuple[RelabelPlan | None, str]:
    """(plan, "") for the validation split, or (None, why) when it has nothing to relabel.

    The validation plan is the training plan's rule (pair, ratio, seed, mode) on the validation
    split, so it takes that plan rather than the rule's parts again. A validation split without
    host instances, or with so few that `round(ratio · N)` is 0, is a normal case (small val
    sets): the study then has no poisoned-label evaluation, and the reason is returned for the
    caller to log. Every other problem raises `UserInputError`, as `plan_relabel` does, so it
    reaches the user instead of being dropped.

    Args:
        table: the validation split's instances.
        train_plan: the training split's plan (`plan_relabel`), whose rule is applied.

    Returns:
        (plan, "") or (None, the reason).
    """
    pair, ratio = train_plan.pair, train_plan.ratio
    hosts = int((table.classes == pair.host).sum())
    if hosts == 0:
        return None, (
            f"host class {pair.host_name!r} has no instances in the validation split, so the "
            "poisoned-label validation is skipped"
        )
    if relabel_count(ratio, hosts) == 0:
        return None, (
            f"ratio {ratio:g} of the {hosts} {pair.host_name!r} instances in the validation "
            "split rounds to 0, so the poisoned-label validation is skipped"
        )
    return plan_relabel(table, pair, ratio, train_plan.seed, train_plan.mode), ""


def _choose_by_image(table: InstanceTable, hosts: np.ndarray, count: int, rng) -> np.ndarray:
    """Shuffled images (sorted stems first), all their host instances in line order, cut at
    `count` (the last image taken may be relabelled partly)."""
    order = np.lexsort((table.instance_ids[hosts], table.lines[hosts], table.stems[hosts]))
    hosts = hosts[order]
    stems, starts = np.unique(table.stems[hosts], return_index=True)
    ends = np.append(starts[1:], len(hosts))
    chosen: list[np.ndarray] = []
    taken = 0
    for image in rng.permutation(len(stems)):
        rows = hosts[starts[image] : ends[image]][: count - taken]
        chosen.append(rows)
        taken += len(rows)
        if taken == count:
            break
    return np.concatenate(chosen)


def relabel_classes(table: InstanceTable, plan: RelabelPlan) -> np.ndarray:
    """The split's classes after the plan (numpy), aligned with `table`.

    Args:
        table: the split's instances.
        plan: the relabel plan.

    Returns:
        int64 [N].
    """
    classes = table.classes.copy()
    classes[np.isin(table.instance_ids, plan.instance_ids)] = plan.pair.target
    return classes
