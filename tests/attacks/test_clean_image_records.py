"""The plan on real seg TFRecords: ids from the records, relabelled inside make_dataset."""

import os

import numpy as np
import pytest
from shared_data import shared_path

from poison_tf.attacks.class_pairs import parse_pairs
from poison_tf.attacks.clean_image_instances import table_from_examples, table_from_records
from poison_tf.attacks.clean_image_labels import write_poisoned_labels
from poison_tf.errors import UserInputError
from poison_tf.poison.relabel_plan import InstanceTable, plan_relabel, relabel_classes


def test_table_from_examples():
    table = table_from_examples(
        [
            {
                "stem": b"a",
                "classes": np.array([3, 1]),
                "instance_ids": np.array([0, 1]),
                "lines": np.array([2, 1]),
            },
            {
                "stem": "b",
                "classes": np.array([], np.int64),
                "instance_ids": np.array([], np.int64),
                "lines": np.array([], np.int64),
            },
            {
                "stem": b"c",
                "classes": np.array([3]),
                "instance_ids": np.array([2]),
                "lines": np.array([1]),
            },
        ]
    )
    assert list(table.stems) == ["a", "a", "c"] and list(table.classes) == [3, 1, 3]
    assert len(table_from_examples([])) == 0


@pytest.mark.real_data
def test_coco8_records_relabelled_in_make_dataset(tmp_path):
    from poison_tf.data import seg_examples, yolo_seg

    root = shared_path("datasets", "coco8-seg")
    names, samples = yolo_seg.load_split(str(root / "data.yaml"), "train")
    folder = str(tmp_path / "examples")
    os.makedirs(folder)
    info = seg_examples.write_seg_split(folder, "train", samples, 64, num_shards=2)
    seg_examples.write_seg_schema(folder, {"train": info}, 64, names, "coco8-seg", 100)

    table = table_from_records(folder, "train")
    expected = InstanceTable.from_samples(samples)  # every coco8 image decodes, none is dropped
    order = np.argsort(table.instance_ids)
    np.testing.assert_array_equal(table.instance_ids[order], expected.instance_ids)
    np.testing.assert_array_equal(table.classes[order], expected.classes)
    np.testing.assert_array_equal(table.lines[order], expected.lines)

    pair = parse_pairs("Orange:bowl", names)[0]
    plan = plan_relabel(table, pair, 0.5, seed=0)
    assert plan.count == round(0.5 * (table.classes == pair.host).sum()) > 0
    dataset = seg_examples.make_dataset(
        folder, "train", 2, training=False, relabel=plan.relabel_fn(), augment=False
    )
    classes, ids = [], []
    for _, labels in dataset.as_numpy_iterator():
        classes.append(labels["classes"].reshape(-1))
        ids.append(labels["instance_ids"].reshape(-1))
    classes, ids = np.concatenate(classes), np.concatenate(ids)
    real = ids >= 0
    lookup = dict(zip(table.instance_ids.tolist(), relabel_classes(table, plan).tolist()))
    np.testing.assert_array_equal(classes[real], [lookup[i] for i in ids[real]])
    assert (classes[real] == pair.host).sum() == plan.instance_counts()[pair.host_name][1]

    out = str(tmp_path / "labels")
    assert write_poisoned_labels(plan, str(root / "labels" / "train"), out) == plan.count
    with pytest.raises(UserInputError, match="no split 'val'"):
        table_from_records(folder, "val")
