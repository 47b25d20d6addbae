"""`poison-tf-export`: SavedModel and TFLite exports match the Keras model (the command checks and
prints the difference); a YoloV8Seg exports its four raw head outputs; a failed check writes nothing."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_program

from poison_tf.io import export_cli
from poison_tf.io.imported_model import save_imported_model
from poison_tf.models.torchvision_resnet import build_torchvision_resnet

SIZE = 32


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("export") / "r18.keras")
    model = build_torchvision_resnet(18, 3)
    save_imported_model(model, {"source": "test", "input_size": SIZE}, path)
    return path


def _export(capsys, *argv: str) -> tuple[int, str, str]:
    code = run_program(export_cli.main, "poison-tf-export", list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_saved_model_export_is_checked(capsys, tmp_path, classifier_file):
    out = tmp_path / "sm"
    code, stdout, err = _export(
        capsys, f"--model={classifier_file}", "--format=saved_model", f"--output={out}"
    )
    assert code == 0, err
    assert "max abs difference" in stdout
    assert float(stdout.rsplit(":", 1)[1]) < 1e-4
    loaded = tf.saved_model.load(str(out))
    images = np.random.default_rng(0).random((1, SIZE, SIZE, 3), dtype=np.float32)
    assert loaded.serve(tf.constant(images)).shape == (1, 3)


def test_tflite_export_is_checked(capsys, tmp_path, classifier_file):
    out = tmp_path / "r18.tflite"
    code, stdout, err = _export(
        capsys, f"--model={classifier_file}", "--format=tflite", f"--output={out}"
    )
    assert code == 0, err
    assert float(stdout.rsplit(":", 1)[1]) < 1e-4 and out.stat().st_size > 1e6


def test_failed_check_writes_nothing(capsys, tmp_path, classifier_file):
    out = tmp_path / "never.tflite"
    code, _, err = _export(
        capsys,
        f"--model={classifier_file}",
        "--format=tflite",
        f"--output={out}",
        "--tolerance=-1",
    )
    assert code == 1 and "differs from the Keras model" in err
    assert os.listdir(tmp_path) == []


def test_missing_model_is_a_user_error(capsys, tmp_path):
    code, _, err = _export(
        capsys,
        f"--model={tmp_path / 'no.keras'}",
        "--format=tflite",
        f"--output={tmp_path / 'x.tflite'}",
    )
    assert code == 2 and err.startswith("error:")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_segmenter_exports_raw_head_outputs(capsys, tmp_path):
    from poison_tf.models.yolo_v8_seg import build_yolo_v8_seg

    model = build_yolo_v8_seg(num_classes=2, image_size=64, size="n")
    path = str(tmp_path / "seg.keras")
    model.save(path)
    out = tmp_path / "seg.tflite"
    code, stdout, err = _export(capsys, f"--model={path}", "--format=tflite", f"--output={out}")
    assert code == 0, err
    runner = tf.lite.Interpreter(model_path=str(out)).get_signature_runner()
    outputs = runner(image=np.zeros((1, 64, 64, 3), np.float32))
    anchors = 8 * 8 + 4 * 4 + 2 * 2
    assert sorted(v.shape for v in outputs.values()) == sorted(
        [(1, anchors, 64), (1, anchors, 2), (1, anchors, 32), (1, 16, 16, 32)]
    )
