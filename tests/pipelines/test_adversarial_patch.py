"""The adversarial-patch pipeline end to end (tiny sizes) and its bad-input contract (exit 2)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import keras
import numpy as np
import pandas as pd
import pytest
from pipeline_cli import error_lines, run_cli, run_into

from pipelines import adversarial_patch

TINY = [
    "--pipeline=adversarial_patch",
    "--preset=demo",
    "--num_train=96",
    "--num_test=48",
    "--epochs=1",
    "--global_batch_size=32",
    "--patch_steps=4",
    "--patch_batch_size=16",
    "--patch_cells=4",
    "--patch_areas=10,20",
]


def test_tiny_pipeline_writes_the_report(tmp_path):
    out = run_into(tmp_path, TINY)
    report = (out / "report.md").read_text()
    for heading in (
        "## Clean vs patched",
        "## Success vs patch area",
        "## Grad-CAM",
        "## Loss per iteration",
    ):
        assert heading in report
    sweep = pd.read_csv(out / "success_vs_area.csv", index_col=0)
    assert list(sweep.index) == [10.0, 15.0, 20.0]  # the sweep plus the main 15 % patch
    assert "random_control: targeted_success" in sweep.columns
    assert (
        "patch_eot: targeted_success" in sweep.columns
    )  # EOT at evaluation time, beside plain placement
    assert "optimised patch, EOT" in report and "random control, EOT" in report
    assert len(pd.read_csv(out / "losses.csv")) == 4
    assert (out / "patch.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "patch_large.png").is_file()
    patch = keras.ops.convert_to_numpy(keras.utils.load_img(out / "patch.png"))
    side = json.loads((out / "patch.json").read_text())["geometry"]["side_px"]
    assert patch.shape == (side, side, 3)
    assert (out / "tensorboard" / "patch_15pct").is_dir() and (
        out / "tensorboard" / "victim"
    ).is_dir()
    assert keras.models.load_model(out / "victim.keras").input_shape == (None, 32, 32, 3)

    # A rerun that finds the victim cached gives the same patches and numbers, whatever random
    # state the process is in (the victim's training no longer seeds what follows it).
    first = (out / "success_vs_area.csv").read_text(), np.load(out / "colours.npy")
    for stage in (out / ".pipeline").iterdir():
        if stage.name.startswith(
            ("PatchOptimizer", "PatchEvaluator", "PatchExplainer", "PatchReport")
        ):
            shutil.rmtree(stage)
    keras.utils.set_random_seed(12345)
    assert run_cli([*TINY, f"--output_dir={out}"]) == 0
    assert (out / "success_vs_area.csv").read_text() == first[0]
    np.testing.assert_array_equal(np.load(out / "colours.npy"), first[1])


def _save(model: keras.Model, path) -> str:
    model.save(str(path))
    return str(path)


def conv_classifier(size: int, classes: int = 4) -> keras.Model:
    inputs = keras.Input([size, size, 3])
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


def dense_classifier(size: int = 32, classes: int = 4) -> keras.Model:
    inputs = keras.Input([size, size, 3])
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


@pytest.mark.parametrize(
    "make_flags, message",
    [
        (lambda d: ["--target_class=4"], "out of range"),
        (lambda d: ["--target_class=-3"], "--target_class=-3"),
        (lambda d: ["--patch_fraction=0"], "strictly between 0 and 1"),
        (lambda d: ["--patch_fraction=1"], "strictly between 0 and 1"),
        (lambda d: ["--patch_areas=5,-10"], "strictly between 0 and 1"),
        (lambda d: ["--patch_cells=8", "--patch_areas=5"], "finer than the patch"),
        (lambda d: [f"--model={_save(conv_classifier(64), d / 'big.keras')}"], "takes inputs"),
        (
            lambda d: [
                f"--model={_save(conv_classifier(32, 3), d / 'three.keras')}",
                "--target_class=3",
            ],
            "out of range",
        ),
        (
            lambda d: [f"--model={_save(dense_classifier(), d / 'dense.keras')}"],
            "Grad-CAM needs a convolutional layer",
        ),
        (
            lambda d: [
                f"--model={_save(conv_classifier(32), d / 'ok.keras')}",
                "--gradcam_layer=nope",
            ],
            "nope",
        ),
        (lambda d: [f"--model={d / 'missing.h5'}"], "missing.h5"),
        (lambda d: ["--keep_clear=0,0,32,32"], "keeps clear"),
        (lambda d: [f"--weights={d / 'missing.keras'}"], "missing.keras: no such file"),
        (lambda d: ["--preset=cifar10_resnet50_224_cpu"], "--weights is required"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, make_flags, message):
    out = tmp_path / "run"
    assert run_cli([*TINY, *make_flags(tmp_path), f"--output_dir={out}"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0], errors
    assert not out.exists()


def test_user_model_is_attacked_without_training(tmp_path):
    keras.utils.set_random_seed(0)
    path = _save(conv_classifier(32), tmp_path / "victim.keras")
    out = tmp_path / "run"
    assert run_cli([*TINY, f"--model={path}", "--patch_areas=15", f"--output_dir={out}"]) == 0
    log = [
        json.loads(line)
        for line in (out / ".pipeline" / "executions.jsonl").read_text().splitlines()
    ]
    ran = {entry["component"] for entry in log}
    assert "PatchVictimImporter" in ran and "PatchVictimTrainer" not in ran
    assert np.load(out / "colours.npy").shape == (4, 4, 3)


@pytest.mark.slow
def test_resnet50_victim_is_trained_and_attacked(tmp_path):
    out = tmp_path / "run"
    assert (
        run_cli(
            [
                *TINY,
                "--arch=resnet50",
                "--num_train=32",
                "--num_test=16",
                "--patch_areas=15",
                "--patch_steps=2",
                "--lr_decay=cosine",
                f"--output_dir={out}",
            ]
        )
        == 0
    )
    cam = json.loads((out / ".pipeline" / "executions.jsonl").read_text().splitlines()[0])
    assert cam["component"] == "PatchExampleGen"
    report = (out / "report.md").read_text()
    assert "conv5_block3" in report  # Grad-CAM on ResNet50's last conv block
    assert "Adam lr 0.003 (cosine decay to 5 %)" in report


@pytest.mark.parametrize("name", sorted(adversarial_patch.PRESETS))
def test_every_preset_passes_its_own_checks(name, tmp_path):
    """Each preset's geometry (every sweep area holds its cells) is valid before hours of training."""
    config = adversarial_patch.PRESETS[name]
    if config.continues:
        (tmp_path / "victim.keras").write_bytes(b"")
        config = dataclasses.replace(config, weights=str(tmp_path / "victim.keras"))
    if config.model and not os.path.isfile(config.model):  # `imagenet`: imported by the user first
        config = dataclasses.replace(config, model=None)
    adversarial_patch.validate(
        config
    )  # raises UserInputError (exit 2 on the command line) on a bad preset
