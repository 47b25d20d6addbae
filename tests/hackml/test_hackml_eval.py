"""`poison-tf-eval`: eval.py's accuracy line, the repaired classifier with a detector, the CSV,
scoring under a two-replica strategy, and one exit-2 message per kind of bad input."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from hackml_helpers import error_lines, faces, run_eval, save_brightness_detector

from poison_tf import hackml_eval
from poison_tf.data.hackml import open_hackml, write_hackml_h5
from poison_tf.io.model_loading import load_hackml_model


def _predictions(model, images: np.ndarray) -> np.ndarray:
    return model.predict(images.astype(np.float32) / 255.0, verbose=0).argmax(axis=1)


@pytest.fixture(scope="module")
def scored(tiny_model, tmp_path_factory):
    """A 9-image data file on which the tiny model is right exactly 7 times."""
    model, paths = tiny_model
    images = faces(9, seed=11)
    predicted = _predictions(model, images)
    labels = predicted.copy()
    labels[7:] = (labels[7:] + 1) % 5
    path = str(tmp_path_factory.mktemp("scored") / "clean_test_data.h5")
    write_hackml_h5(path, images, labels)
    return path, paths


def _stdout(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("kind", ["full_h5", "keras2_weights"])
def test_prints_the_accuracy_line_of_eval_py(scored, capsys, kind):
    data, paths = scored
    assert run_eval([data, paths[kind], "--batch_size=4"]) == 0
    original = np.mean(np.equal(np.r_[np.ones(7), np.zeros(2)], 1.0)) * 100  # eval.py's arithmetic
    assert _stdout(capsys) == [f"Classification accuracy: {original}"]
    assert original == 77.77777777777779


def test_detector_repairs_flagged_inputs_to_class_n_and_writes_the_csv(
    tiny_model, tmp_path, capsys
):
    model, paths = tiny_model
    dark, bright = faces(6, seed=5, high=100), faces(6, seed=6, low=156)
    images = np.concatenate([dark, bright])
    predicted = _predictions(model, images)
    labels = predicted.copy()
    labels[5] = (labels[5] + 1) % 5  # a clean image the BadNet gets wrong
    labels[6:10] = 5  # triggered images: right only if flagged (class N = 5)
    data = str(tmp_path / "mixed.h5")
    write_hackml_h5(data, images, labels)
    detector = str(tmp_path / "detector.h5")
    save_brightness_detector(detector, threshold=0.5)
    out = tmp_path / "out" / "predictions.csv"

    assert run_eval([data, paths["full_h5"], detector, f"--output={out}", "--batch_size=5"]) == 0
    assert _stdout(capsys) == [
        "Classification accuracy: 75.0",  # 5 clean + 4 flagged of 12
        "Flagged as poisoned (class 5): 6 of 12 (50%)",
    ]
    table = pd.read_csv(out)
    assert list(table.columns) == list(hackml_eval.CSV_COLUMNS)
    np.testing.assert_array_equal(table["index"], np.arange(12))
    np.testing.assert_array_equal(table["label"], labels)
    np.testing.assert_array_equal(table["model_prediction"], predicted)
    np.testing.assert_array_equal(table["flagged"], [0] * 6 + [1] * 6)
    np.testing.assert_array_equal(table["prediction"], np.r_[predicted[:6], [5] * 6])
    np.testing.assert_allclose(table["score"], images.mean(axis=(1, 2, 3)) / 255.0, rtol=1e-5)
    probs = model.predict(images / 255.0, verbose=0)
    np.testing.assert_allclose(table["confidence"], probs.max(axis=1), rtol=1e-4)


def test_csv_without_detector_and_no_rescale(scored, tmp_path, capsys):
    data, paths = scored
    out = tmp_path / "p.csv"
    assert run_eval([data, paths["keras"], "--no_rescale", f"--output={out}"]) == 0
    table = pd.read_csv(out)
    assert table["score"].isna().all() and (table["flagged"] == 0).all()
    model = keras.models.load_model(paths["keras"])
    x = np.concatenate([b[1] for b in open_hackml(data, rescale=False).batches(9)])
    np.testing.assert_array_equal(table["prediction"], model.predict(x, verbose=0).argmax(1))


def test_two_replicas_give_the_single_device_answers(scored, two_cpu_strategy):
    data_path, paths = scored
    data = open_hackml(data_path)
    results = []
    for strategy in (
        tf.distribute.get_strategy(),
        two_cpu_strategy,
    ):
        with strategy.scope():
            model = load_hackml_model(paths["full_h5"])
            # 9 images in batches of 4: shards of 2/2, 2/2, then 1 padded to 1/1
            results.append(hackml_eval.score_file(data, model, strategy, 5, 4, progress=False))
    np.testing.assert_array_equal(results[0].model_prediction, results[1].model_prediction)
    np.testing.assert_allclose(results[0].confidence, results[1].confidence, rtol=1e-5)
    assert results[1].accuracy_percent() == 77.77777777777779


# ---- bad input: one message, exit status 2, no CSV -------------------------------------------


def _model_file(tmp_path, name, outputs_fn, input_shape=(55, 47, 3)) -> str:
    inputs = keras.Input(input_shape)
    path = str(tmp_path / name)
    keras.Model(inputs, outputs_fn(inputs)).save(path)
    return path


def _bad_case(case: str, tmp_path, data: str, paths: dict) -> tuple[list[str], str]:
    """(argv, expected part of the message) for one kind of bad input."""
    model = paths["keras2_weights"]
    if case == "missing_label_key":
        with h5py.File(tmp_path / "d.h5", "w") as handle:
            handle["data"] = np.zeros((2, 3, 55, 47))
        return [str(tmp_path / "d.h5"), model], "missing key(s) 'label'"
    if case == "nhwc_data":
        with h5py.File(tmp_path / "d.h5", "w") as handle:
            handle["data"], handle["label"] = np.zeros((2, 55, 47, 3)), np.zeros(2)
        return [str(tmp_path / "d.h5"), model], "channels-last (NHWC)"
    if case == "label_outside_classes":
        write_hackml_h5(str(tmp_path / "d.h5"), faces(3), [0, 4, 7])
        return [
            str(tmp_path / "d.h5"),
            model,
        ], "label 7 at index 2 is outside the model's 5 classes"
    if case == "label_n_without_detector":
        write_hackml_h5(str(tmp_path / "d.h5"), faces(2), [0, 5])
        return [str(tmp_path / "d.h5"), model], "outside the model's 5 classes (0..4)"
    if case == "output_not_class_vector":
        path = _model_file(tmp_path, "seg.h5", lambda x: keras.layers.Conv2D(5, 3)(x))
        return [data, path], "is not a vector of class scores"
    if case == "model_for_other_inputs":
        path = _model_file(
            tmp_path,
            "m32.h5",
            lambda x: keras.layers.Dense(5)(keras.layers.Flatten()(x)),
            input_shape=(32, 32, 3),
        )
        return [data, path], "takes inputs (32, 32, 3)"
    if case == "detector_for_other_inputs":
        save_brightness_detector(str(tmp_path / "det.h5"), 0.5, input_shape=(56, 48, 3))
        return [data, model, str(tmp_path / "det.h5")], "was made for inputs (56, 48, 3)"
    if case == "truncated_data":
        write_hackml_h5(str(tmp_path / "full.h5"), faces(20), np.zeros(20))
        (tmp_path / "d.h5").write_bytes((tmp_path / "full.h5").read_bytes()[:150_000])
        return [str(tmp_path / "d.h5"), model], "truncated"
    if case == "non_hdf5_model":
        (tmp_path / "m.h5").write_text("version https://git-lfs.github.com/spec/v1\n")
        return [data, str(tmp_path / "m.h5")], "not an HDF5 file"
    if case == "truncated_model":
        (tmp_path / "m.h5").write_bytes(open(paths["full_h5"], "rb").read()[:120_000])
        return [data, str(tmp_path / "m.h5")], "m.h5"
    if case == "non_hdf5_detector":
        (tmp_path / "det.h5").write_text("nope")
        return [data, model, str(tmp_path / "det.h5")], "not an HDF5 file"
    if case == "lambda_model":
        path = _model_file(
            tmp_path,
            "lam.h5",
            lambda x: keras.layers.Dense(5)(
                keras.layers.Flatten()(keras.layers.Lambda(lambda t: t + 1.0, name="shift")(x))
            ),
        )
        return [data, path], "refusing Lambda layer(s) shift"
    if case == "unknown_custom_layer":
        path = str(tmp_path / "custom.h5")
        with open(paths["full_h5"], "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        with h5py.File(path, "a") as handle:
            config = handle.attrs["model_config"]
            config = config.decode() if isinstance(config, bytes) else config
            handle.attrs["model_config"] = config.replace(
                '"class_name": "Add"', '"class_name": "FancyAdd"'
            )
        return [data, path], "refusing unknown custom layer(s) add_1 (FancyAdd)"
    if case == "one_argument":
        return [data], "usage: poison-tf-eval"
    if case == "zero_batch_size":
        return [data, model, "--batch_size=0"], "--batch_size=0"
    raise AssertionError(case)


BAD_CASES = [
    "missing_label_key",
    "nhwc_data",
    "label_outside_classes",
    "label_n_without_detector",
    "output_not_class_vector",
    "model_for_other_inputs",
    "detector_for_other_inputs",
    "truncated_data",
    "non_hdf5_model",
    "truncated_model",
    "non_hdf5_detector",
    "lambda_model",
    "unknown_custom_layer",
    "one_argument",
    "zero_batch_size",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_exits_2_with_one_message_and_no_csv(scored, tmp_path, capsys, case):
    data, paths = scored
    argv, message = _bad_case(case, tmp_path, data, paths)
    out = tmp_path / "predictions.csv"
    capsys.readouterr()
    assert run_eval([*argv, f"--output={out}"]) == 2
    errors = error_lines(capsys)
    assert len(errors) == 1 and message in errors[0], errors
    assert not out.exists()


def test_lambda_model_runs_with_unsafe_deserialization(scored, tmp_path, capsys):
    data, paths = scored
    argv, _ = _bad_case("lambda_model", tmp_path, data, paths)
    assert run_eval([*argv, "--unsafe_deserialization"]) == 0
    assert _stdout(capsys)[0].startswith("Classification accuracy: ")


def test_output_that_is_a_directory_fails_before_scoring(scored, tmp_path, capsys):
    data, paths = scored
    assert run_eval([data, paths["full_h5"], f"--output={tmp_path}"]) == 2
    errors = error_lines(capsys)
    assert len(errors) == 1 and "is a directory" in errors[0]
