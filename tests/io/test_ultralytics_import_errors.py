"""Bad `.pt` files a user can hand the Ultralytics importer: one `error:` line, exit 2, no output.

Each case runs the importer inside `poison_tf.cli.guarded` (what every `poison-tf-*` program
wraps its main in) with a main that would save the model, and checks the contract.
"""

from __future__ import annotations

import os

import pytest
from ultralytics_fixtures import random_seg_model, save_full_checkpoint, torch

from poison_tf.cli import guarded
from poison_tf.io.ultralytics_import import import_ultralytics


@pytest.fixture(scope="module")
def seg_checkpoint(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("seg") / "yolov8n-seg.pt")
    return save_full_checkpoint(random_seg_model("n", 3), path, 64)


def run_import(tmp_path, capsys, path: str, num_classes=None, trust_pickle=True) -> str:
    """Runs the import as a program would; returns its one stderr line (asserts the contract)."""
    output = str(tmp_path / "model.keras")

    def main(argv):
        model, _ = import_ultralytics(path, num_classes=num_classes, trust_pickle=trust_pickle)
        model.save(output)

    with pytest.raises(SystemExit) as exit_:
        guarded(main)([])
    assert exit_.value.code == 2
    assert not os.path.exists(output)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and path in lines[0]
    return lines[0]


def test_detect_checkpoint_is_not_a_segmentation_one(tmp_path, capsys):
    from ultralytics.nn.tasks import DetectionModel

    path = str(tmp_path / "yolov8n.pt")
    torch.save({"model": DetectionModel("yolov8n.yaml", nc=3, verbose=False)}, path)
    assert "a Detect checkpoint (task detect)" in run_import(tmp_path, capsys, path)


def test_detect_state_dict_is_not_a_segmentation_one(tmp_path, capsys):
    from ultralytics.nn.tasks import DetectionModel

    path = str(tmp_path / "yolov8n_state.pt")
    torch.save(DetectionModel("yolov8n.yaml", nc=3, verbose=False).state_dict(), path)
    message = run_import(tmp_path, capsys, path, trust_pickle=False)
    assert "not a segmentation checkpoint" in message and "detect" in message


def test_classify_state_dict_is_not_a_segmentation_one(tmp_path, capsys):
    from ultralytics.nn.tasks import ClassificationModel

    path = str(tmp_path / "yolov8n-cls.pt")
    torch.save(ClassificationModel("yolov8n-cls.yaml", nc=5, verbose=False).state_dict(), path)
    message = run_import(tmp_path, capsys, path, trust_pickle=False)
    assert "not a segmentation checkpoint" in message and "classify" in message


def test_plain_dict_without_tensors(tmp_path, capsys):
    path = str(tmp_path / "dict.pt")
    torch.save({"epochs": 3, "lr": 0.01}, path)
    assert "not a state_dict of tensors" in run_import(tmp_path, capsys, path)


def test_truncated_checkpoint(tmp_path, capsys, seg_checkpoint):
    path = str(tmp_path / "truncated.pt")
    with open(seg_checkpoint, "rb") as source, open(path, "wb") as target:
        target.write(source.read()[: os.path.getsize(seg_checkpoint) // 2])
    assert "truncated or corrupt" in run_import(tmp_path, capsys, path)


def test_not_a_torch_file(tmp_path, capsys):
    path = str(tmp_path / "notes.pt")
    with open(path, "w") as handle:
        handle.write("these are not weights\n")
    assert "not a PyTorch checkpoint" in run_import(tmp_path, capsys, path)


def test_full_object_checkpoint_needs_trust_pickle(tmp_path, capsys, seg_checkpoint):
    message = run_import(tmp_path, capsys, seg_checkpoint, trust_pickle=False)
    assert "full-object" in message and "--trust_pickle" in message and "runs code" in message


def test_class_count_other_than_num_classes(tmp_path, capsys, seg_checkpoint):
    message = run_import(tmp_path, capsys, seg_checkpoint, num_classes=80)
    assert "has 3 classes, --num_classes=80" in message


def test_state_dict_with_a_missing_tensor_names_it(tmp_path, capsys, seg_checkpoint):
    state = torch.load(seg_checkpoint, weights_only=False)["model"].state_dict()
    del state["model.22.proto.cv2.conv.weight"]
    path = str(tmp_path / "missing.pt")
    torch.save(state, path)
    message = run_import(tmp_path, capsys, path, trust_pickle=False)
    assert "1 missing tensors: model.22.proto.cv2.conv.weight (3, 3, 64, 64)" in message


def test_missing_file(tmp_path, capsys):
    assert "no such file" in run_import(tmp_path, capsys, str(tmp_path / "absent.pt"))


def test_yolo11_seg_is_another_architecture(tmp_path, capsys):
    from ultralytics.nn.tasks import SegmentationModel

    path = str(tmp_path / "yolo11n-seg.pt")
    torch.save({"model": SegmentationModel("yolo11n-seg.yaml", nc=3, verbose=False)}, path)
    message = run_import(tmp_path, capsys, path)
    assert "layer 2 is" in message and "C3k2" in message and "cannot be imported" in message
