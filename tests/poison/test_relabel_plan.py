"""Relabel plans: exact counts, determinism, the per-image rule, JSON, and tf.data relabelling."""

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.attacks.class_pairs import make_pair
from poison_tf.errors import UserInputError
from poison_tf.poison.relabel_plan import (
    InstanceTable,
    RelabelPlan,
    plan_relabel,
    plan_validation_relabel,
    relabel_classes,
    relabel_count,
)

NAMES = ["bridge", "parking sign", "car", "bus", "train"]


def random_table(num_images=60, max_per_image=8, seed=0, first_id=1000):
    rng = np.random.default_rng(seed)
    stems, classes, lines = [], [], []
    for image in range(num_images):
        n = rng.integers(0, max_per_image + 1)
        stems += [f"{image:06d}"] * n
        classes += rng.integers(0, 4, size=n).tolist()  # class 4 (train) never appears
        lines += list(range(1, n + 1))
    ids = rng.permutation(len(classes)) * 3 + first_id  # unique, unordered, not 0-based
    return InstanceTable(ids, classes, stems, lines)


@pytest.mark.parametrize("ratio", [0.5, 0.1, 0.33, 1.0])
@pytest.mark.parametrize("mode", ["instances", "images"])
def test_count_is_exact_and_only_hosts_change(ratio, mode):
    table = random_table()
    pair = make_pair("bridge", "car", NAMES)
    plan = plan_relabel(table, pair, ratio, seed=3, mode=mode)
    hosts = int((table.classes == 0).sum())
    assert plan.count == round(ratio * hosts) == relabel_count(ratio, hosts)
    assert len(set(plan.instance_ids.tolist())) == plan.count
    chosen = np.isin(table.instance_ids, plan.instance_ids)
    assert np.all(table.classes[chosen] == 0)
    after = relabel_classes(table, plan)
    assert np.all(after[chosen] == 2) and np.array_equal(after[~chosen], table.classes[~chosen])
    assert plan.instance_counts() == {
        "car": (int((table.classes == 2).sum()), int((table.classes == 2).sum()) + plan.count),
        "bridge": (hosts, hosts - plan.count),
    }


def test_half_rounds_to_even_like_the_study():
    # the original study: bridge 373 -> 187, banner 339 -> 169, train 9 -> 5 at ratio 0.5
    assert [n - relabel_count(0.5, n) for n in (373, 339, 9, 1368, 34)] == [187, 169, 5, 684, 17]


def test_deterministic_for_a_seed_and_independent_of_row_order():
    table = random_table()
    pair = make_pair("bus", "car", NAMES)
    a = plan_relabel(table, pair, 0.5, seed=11)
    b = plan_relabel(table, pair, 0.5, seed=11)
    c = plan_relabel(table, pair, 0.5, seed=12)
    order = np.random.default_rng(5).permutation(len(table))
    shuffled = InstanceTable(
        table.instance_ids[order], table.classes[order], table.stems[order], table.lines[order]
    )
    d = plan_relabel(shuffled, pair, 0.5, seed=11)
    np.testing.assert_array_equal(a.instance_ids, b.instance_ids)
    np.testing.assert_array_equal(a.instance_ids, d.instance_ids)
    assert not np.array_equal(a.instance_ids, c.instance_ids)


def test_image_mode_takes_whole_images_but_the_last():
    table = random_table(num_images=80)
    plan = plan_relabel(table, make_pair("car", "bus", NAMES), 0.4, seed=2, mode="images")
    host_rows = table.classes == 2
    partial = []
    for stem in np.unique(plan.stems):
        in_image = host_rows & (table.stems == stem)
        planned = np.isin(table.instance_ids, plan.instance_ids) & in_image
        if planned.sum() < in_image.sum():
            partial.append(stem)
            # a partly relabelled image keeps its first host lines
            assert table.lines[planned].max() < table.lines[in_image & ~planned].min()
    assert len(partial) <= 1


def test_host_without_instances_and_zero_count():
    table = random_table()
    with pytest.raises(UserInputError, match="--pairs: host class 'train' has no instances"):
        plan_relabel(table, make_pair("train", "bus", NAMES))
    small = InstanceTable([0, 1, 2], [0, 0, 1], ["a", "a", "b"], [1, 2, 1])
    with pytest.raises(
        UserInputError, match="--ratio: 0.1 of the 2 'bridge' instances rounds to 0"
    ):
        plan_relabel(small, make_pair("bridge", "car", NAMES), 0.1)
    with pytest.raises(UserInputError, match="--ratio"):
        plan_relabel(small, make_pair("bridge", "car", NAMES), 1.5)
    with pytest.raises(UserInputError, match="--relabel_mode"):
        plan_relabel(small, make_pair("bridge", "car", NAMES), mode="boxes")


def test_table_validation():
    with pytest.raises(ValueError, match="unique"):
        InstanceTable([1, 1], [0, 0], ["a", "a"], [1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        InstanceTable([-1], [0], ["a"], [1])


def test_json_round_trip_lists_every_change(tmp_path):
    table = random_table()
    plan = plan_relabel(
        table, make_pair("bridge", "parking sign", NAMES), 0.5, seed=4, mode="images"
    )
    plan.save(str(tmp_path / "plan.json"))
    loaded = RelabelPlan.load(str(tmp_path / "plan.json"))
    assert loaded.pair == plan.pair and loaded.mode == "images" and loaded.seed == 4
    np.testing.assert_array_equal(loaded.instance_ids, plan.instance_ids)
    np.testing.assert_array_equal(loaded.lines, plan.lines)
    change = plan.to_json()["changes"][0]
    row = np.flatnonzero(table.instance_ids == change["instance_id"])[0]
    assert (change["stem"], change["line"], change["old_class"], change["new_class"]) == (
        table.stems[row],
        table.lines[row],
        0,
        1,
    )
    (tmp_path / "other.json").write_text('{"kind": "poison_plan"}')
    with pytest.raises(UserInputError, match="not a clean-image relabel plan"):
        RelabelPlan.load(str(tmp_path / "other.json"))


def padded_examples(table, max_instances=10):
    """(classes [M], instance_ids [M]) per image, padded with -1 like the training batch."""
    for stem in np.unique(table.stems):
        rows = np.flatnonzero(table.stems == stem)
        classes = np.full(max_instances, -1, np.int32)
        ids = np.full(max_instances, -1, np.int64)
        classes[: len(rows)] = table.classes[rows]
        ids[: len(rows)] = table.instance_ids[rows]
        yield classes, ids


@pytest.mark.parametrize("batched", [False, True])
def test_relabel_fn_in_tf_data_changes_exactly_the_planned_instances(batched):
    table = random_table(seed=7)
    plan = plan_relabel(table, make_pair("bus", "bridge", NAMES), 0.5, seed=9)
    examples = list(padded_examples(table))
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.stack([c for c, _ in examples]), np.stack([i for _, i in examples]))
    )
    if batched:
        dataset = dataset.batch(7)
    relabel = plan.relabel_fn()
    dataset = dataset.map(lambda c, i: (relabel(c, i), c, i))
    new, old, ids = (
        np.concatenate([np.reshape(t, (-1,)) for t in part])
        for part in zip(*dataset.as_numpy_iterator())
    )
    planned = np.isin(ids, plan.instance_ids)
    assert planned.sum() == plan.count
    assert np.all(new[planned] == NAMES.index("bridge")) and np.all(
        old[planned] == NAMES.index("bus")
    )
    np.testing.assert_array_equal(new[~planned], old[~planned])  # padding (-1) included
    assert new.dtype == np.int32


def test_validation_plan_applies_the_training_rule_or_says_why_it_is_skipped():
    pair = make_pair("bridge", "car", NAMES)
    train = plan_relabel(random_table(), pair, 0.1, seed=3, mode="images")
    no_host = InstanceTable([0, 1], [2, 3], ["a", "b"], [1, 1])
    plan, why = plan_validation_relabel(no_host, train)
    assert plan is None and "no instances in the validation split" in why
    small = InstanceTable([0, 1, 2], [0, 0, 1], ["a", "a", "b"], [1, 2, 1])
    plan, why = plan_validation_relabel(small, train)
    assert plan is None and "rounds to 0" in why
    val = random_table(seed=1, first_id=9000)
    plan, why = plan_validation_relabel(val, train)
    assert why == ""
    expected = plan_relabel(val, pair, 0.1, seed=3, mode="images")
    np.testing.assert_array_equal(plan.instance_ids, expected.instance_ids)
    assert (plan.pair, plan.ratio, plan.seed, plan.mode) == (pair, 0.1, 3, "images")
