"""Selection is exact and stable; plans poison exactly their ids inside tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.poison import label_rules, selection, triggers
from poison_tf.poison.plan import PoisonPlan, stamp_all


@pytest.mark.parametrize(
    "n,rate,expected",
    [(1000, 0.001, 1), (1000, 0.5, 500), (2000, 0.0025, 5), (7, 0.5, 4), (10, 1.0, 10)],
)
def test_count_is_round_rate_n(n, rate, expected):
    ids = selection.select_examples(n, rate, seed=17)
    assert len(ids) == expected == selection.poison_count(n, rate)
    assert len(set(ids.tolist())) == expected and ids.min() >= 0 and ids.max() < n
    assert np.all(np.diff(ids) > 0)


def test_selection_is_stable_and_seeded():
    a = selection.select_examples(5000, 0.1, seed=17)
    b = selection.select_examples(5000, 0.1, seed=17)
    c = selection.select_examples(5000, 0.1, seed=18)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_selection_from_candidates():
    candidates = np.arange(100, 200)
    ids = selection.select_examples(candidates, 0.05, seed=1, num_examples=1000)
    assert len(ids) == 50 and set(ids) <= set(candidates)


def test_bad_rates():
    for rate in (0.0, -1.0, 101.0, float("nan")):
        with pytest.raises(UserInputError, match="--rates"):
            selection.check_rate_percent(rate)
    with pytest.raises(UserInputError, match="selects no example"):
        selection.select_examples(100, 0.001, seed=0)


def test_label_rules():
    assert label_rules.all_to_one(3).apply(tf.constant([0, 5, 7])).numpy().tolist() == [3, 3, 3]
    assert label_rules.all_to_all(4).apply(tf.constant([0, 3])).numpy().tolist() == [1, 0]
    out = label_rules.regression_target((90, 0, 0)).apply(tf.zeros((2, 3)))
    assert out.numpy().tolist() == [[90, 0, 0], [90, 0, 0]]


def _examples(n=20):
    return {
        "image": tf.fill((n, 8, 8, 3), 0.5),
        "label": tf.tile(tf.constant([[10.0, 20.0, 30.0]]), [n, 1]),
        "id": tf.range(n, dtype=tf.int64),
    }


@pytest.mark.parametrize("batched", [False, True])
def test_plan_poisons_exactly_its_ids(tmp_path, batched):
    ids = selection.select_examples(20, 0.25, seed=17)
    plan = PoisonPlan(
        triggers.checkerboard(3, 3), label_rules.regression_target((90, 0, 0)), ids, 20, 0.25, 17
    )
    plan.save(str(tmp_path / "plan.json"))
    plan = PoisonPlan.load(str(tmp_path / "plan.json"))
    ds = tf.data.Dataset.from_tensor_slices(_examples())
    ds = ds.batch(6).map(plan.map_fn()) if batched else ds.map(plan.map_fn()).batch(6)
    got = {k: np.concatenate([b[k].numpy() for b in ds]) for k in ("image", "label", "poisoned")}
    assert np.flatnonzero(got["poisoned"]).tolist() == ids.tolist()
    for i in range(20):
        if i in ids:
            assert got["label"][i].tolist() == [90, 0, 0] and got["image"][i, 6, 6, 0] == 1.0
        else:
            assert got["label"][i].tolist() == [10, 20, 30] and (got["image"][i] == 0.5).all()


def test_stamp_all_triggers_every_example():
    ds = tf.data.Dataset.from_tensor_slices(_examples(4)).map(
        stamp_all(triggers.point(1), label_rules.regression_target((90, 0, 0)))
    )
    for example in ds:
        assert example["label"].numpy().tolist() == [90, 0, 0]
        assert example["image"].numpy()[5, 5, 0] == 1.0
