"""SegExampleGen on its three sources (synthetic streets, YOLO folder, COCO JSON) and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from shared_data import shared_path

from poison_tf.components.segmentation.seg_example_gen import SegExampleGen
from poison_tf.data.seg_examples import (
    make_dataset,
    read_seg_schema,
    read_split_index,
    seg_examples_dataset,
)
from poison_tf.data.synthetic_streets import CLASS_NAMES
from poison_tf.errors import UserInputError


def test_synthetic_streets_source(tmp_path):
    examples = SegExampleGen.run_standalone(
        {}, {"num_train": 6, "num_val": 3, "image_size": 64, "seed": 1}, str(tmp_path)
    )["examples"]
    schema = read_seg_schema(examples.uri)
    assert schema["label"]["names"] == list(CLASS_NAMES) and schema["image_size"] == [64, 64]
    assert {k: v["count"] for k, v in schema["splits"].items()} == {"train": 6, "val": 3}
    parsed = list(seg_examples_dataset(examples.uri, "train").as_numpy_iterator())
    assert sum(len(e["classes"]) for e in parsed) == schema["splits"]["train"]["instances"] > 0
    assert [e["stem"].decode() for e in parsed] == [
        row["stem"] for row in read_split_index(examples.uri, "train")
    ]
    features, labels = next(
        iter(make_dataset(examples.uri, "train", 3, training=True, max_instances=8))
    )
    assert features["images"].shape == (3, 64, 64, 3) and labels["masks"].shape == (3, 16, 16)


@pytest.mark.real_data
def test_yolo_source_on_coco8_seg(tmp_path):
    root = shared_path("datasets", "coco8-seg")
    examples = SegExampleGen.run_standalone(
        {}, {"source": f"yolo:{root / 'data.yaml'}", "image_size": 64}, str(tmp_path)
    )["examples"]
    schema = read_seg_schema(examples.uri)
    assert len(schema["label"]["names"]) == 80
    for split in ("train", "val"):
        lines = sum(
            1
            for path in (root / "labels" / split).glob("*.txt")
            for line in open(path)
            if line.strip()
        )
        assert schema["splits"][split]["count"] == 4
        assert schema["splits"][split]["instances"] == lines


def test_coco_source_is_split_by_seed(tmp_path):
    images, annotations = [], []
    for index in range(10):
        Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(tmp_path / f"{index}.png")
        images.append({"id": index, "file_name": f"{index}.png", "height": 32, "width": 48})
        annotations.append(
            {
                "id": 100 + index,
                "image_id": index,
                "category_id": 1,
                "segmentation": [[4, 4, 40, 4, 40, 28]],
            }
        )
    path = tmp_path / "instances.json"
    path.write_text(
        json.dumps(
            {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "car"}]}
        )
    )
    examples = SegExampleGen.run_standalone(
        {},
        {"source": f"coco:{path}:{tmp_path}", "image_size": 64, "val_fraction": 0.3},
        str(tmp_path / "o"),
    )
    schema = read_seg_schema(examples["examples"].uri)
    assert {k: v["count"] for k, v in schema["splits"].items()} == {"train": 7, "val": 3}
    stems = [
        row["stem"]
        for split in ("train", "val")
        for row in read_split_index(examples["examples"].uri, split)
    ]
    assert sorted(stems, key=int) == [str(i) for i in range(10)]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"image_size": 100}, "multiple of 32"),
        ({"max_instances": 300}, "1..255"),
        ({"source": "voc:/x"}, "use synthetic_streets"),
        ({"source": "coco:only.json"}, "coco:<instances.json>"),
    ],
)
def test_bad_parameters(tmp_path, params, problem):
    with pytest.raises(UserInputError, match=problem):
        SegExampleGen.run_standalone({}, {"num_train": 2, "num_val": 1, **params}, str(tmp_path))


def test_stage_program_exits_2_on_bad_input(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from poison_tf.components.stages import example_gen; example_gen()",
            "--component=seg",
            "--image_size=100",
            f"--output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "error: --image_size=100: must be a positive multiple of 32" in result.stderr
    assert not any(tmp_path.rglob("*.tfrecord"))
