"""Writing a poisoned copy of a YOLO label folder: exactly the planned lines change."""

import os
import shutil

import numpy as np
import pytest
from shared_data import shared_path

from poison_tf.attacks.class_pairs import make_pair
from poison_tf.attacks.clean_image_labels import write_poisoned_labels
from poison_tf.errors import UserInputError
from poison_tf.poison.relabel_plan import InstanceTable, plan_relabel


def read_label_folder(folder):
    """InstanceTable straight from YOLO label files (ids in sorted-stem, line order)."""
    stems, classes, lines = [], [], []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(folder, name)) as handle:
            for number, line in enumerate(handle.read().splitlines(), start=1):
                if line.strip():
                    stems.append(name[:-4])
                    classes.append(int(line.split()[0]))
                    lines.append(number)
    return InstanceTable(np.arange(len(classes)), classes, stems, lines)


def make_folder(root, seed=0, images=30):
    rng = np.random.default_rng(seed)
    os.makedirs(root)
    for image in range(images):
        rows = [f"{rng.integers(0, 3)} 0.1 0.2 0.3 0.4 0.25 0.5" for _ in range(rng.integers(0, 6))]
        text = "\r\n".join(rows) + (
            "\r\n" if image % 2 else ""
        )  # CRLF, with and without final newline
        with open(os.path.join(root, f"img{image:03d}.txt"), "w", newline="") as handle:
            handle.write(text)
    with open(os.path.join(root, "notes.md"), "w") as handle:
        handle.write("kept as is\n")
    return root


NAMES = ["car", "bus", "truck"]


def test_only_planned_lines_change(tmp_path):
    source = make_folder(str(tmp_path / "labels"))
    table = read_label_folder(source)
    plan = plan_relabel(table, make_pair("car", "truck", NAMES), 0.5, seed=1)
    out = str(tmp_path / "poisoned")
    assert write_poisoned_labels(plan, source, out) == plan.count
    assert sorted(os.listdir(out)) == sorted(os.listdir(source))
    after = read_label_folder(out)
    planned = np.isin(table.instance_ids, plan.instance_ids)
    np.testing.assert_array_equal(after.classes[planned], 2)
    np.testing.assert_array_equal(after.classes[~planned], table.classes[~planned])
    for name in os.listdir(source):
        old, new = (open(os.path.join(d, name), "rb").read() for d in (source, out))
        assert len(old) == len(new) and old.count(b"\r\n") == new.count(b"\r\n")
        changed = [(a, b) for a, b in zip(old.split(b"\r\n"), new.split(b"\r\n")) if a != b]
        assert all(a.split(b" ", 1)[1] == b.split(b" ", 1)[1] for a, b in changed)


def test_plan_for_other_labels_is_refused_and_leaves_nothing(tmp_path):
    source = make_folder(str(tmp_path / "labels"))
    plan = plan_relabel(read_label_folder(source), make_pair("car", "truck", NAMES), 0.5, seed=1)
    other = make_folder(str(tmp_path / "other"), seed=5)
    out = str(tmp_path / "poisoned")
    with pytest.raises(
        UserInputError, match=r"img\d+\.txt:\d+: the plan (expects class 0|names a line)"
    ):
        write_poisoned_labels(plan, other, out)
    assert not os.path.exists(out)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".poisoned")]
    tampered = str(tmp_path / "tampered")
    shutil.copytree(source, tampered)
    stem, line = str(plan.stems[0]), int(plan.lines[0])
    path = os.path.join(tampered, f"{stem}.txt")
    rows = open(path, newline="").read().split("\r\n")
    rows[line - 1] = "2" + rows[line - 1][1:]
    open(path, "w", newline="").write("\r\n".join(rows))
    with pytest.raises(
        UserInputError, match=rf"{stem}\.txt:{line}: the plan expects class 0 but the file has 2"
    ):
        write_poisoned_labels(plan, tampered, out)
    plan.stems = np.asarray(["missing", *plan.stems[1:]])
    with pytest.raises(UserInputError, match="'missing'"):
        write_poisoned_labels(plan, source, out)
    with pytest.raises(UserInputError, match="must not replace"):
        write_poisoned_labels(plan, source, source)
    with pytest.raises(UserInputError, match="label folder not found"):
        write_poisoned_labels(plan, str(tmp_path / "nowhere"), out)


@pytest.mark.real_data
def test_coco128_relabel_counts(tmp_path):
    labels = str(shared_path("datasets", "coco128-seg", "labels", "train2017"))
    table = read_label_folder(labels)
    car, truck = 2, 7  # COCO indices
    names = [str(i) for i in range(80)]
    plan = plan_relabel(table, make_pair(car, truck, names), 0.5, seed=0, mode="images")
    write_poisoned_labels(plan, labels, str(tmp_path / "out"))
    after = read_label_folder(str(tmp_path / "out")).class_counts(80)
    before = table.class_counts(80)
    assert (before[car], after[car]) == plan.instance_counts()["2"]
    assert (before[truck], after[truck]) == plan.instance_counts()["7"]
    assert after.sum() == before.sum() and before[car] > 0
