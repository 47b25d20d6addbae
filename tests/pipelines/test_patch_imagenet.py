"""The `imagenet` patch preset end to end on a tiny image list, with an imported torchvision
ResNet50 (random weights) as `--victim_model`: the real study's setting at toy size."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pandas as pd
import pytest
from pipeline_cli import exits_2_with_one_error, run_cli

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "io"))  # the torch reference nets

from torch_resnet import ResNet, randomise_batchnorm  # noqa: E402

from poison_tf.io.import_cli import import_model  # noqa: E402

SIZE = 64


def image_list(folder: pathlib.Path, count: int = 20, classes: int = 10) -> pathlib.Path:
    import PIL.Image

    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for index in range(count):
        name = f"data/img_{index:03d}.png"
        pixels = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        PIL.Image.fromarray(pixels).save(folder / name)
        lines.append(f"./{name}, {index % classes}")
    (folder / "dataset.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.slow
def test_imagenet_preset_with_imported_resnet50(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "resnet50.pth"
    torch.save(randomise_batchnorm(ResNet(50, num_classes=10)).state_dict(), weights)
    victim, _, _ = import_model(
        "torchvision:resnet50", str(weights), str(tmp_path / "r50.keras"), 10, False
    )
    images = image_list(tmp_path / "list")
    out = tmp_path / "run"
    argv = [
        "--pipeline=adversarial_patch",
        "--preset=imagenet",
        f"--source=imagelist:{images}",
        f"--image_size={SIZE}",
        f"--victim_model={victim}",
        "--target_class=3",
        "--patch_areas=10,25",
        "--patch_steps=2",
        "--patch_batch_size=4",
        f"--output_dir={out}",
    ]
    assert run_cli(argv) == 0
    report = (out / "report.md").read_text()
    assert "## Grad-CAM" in report and "r50.keras" in report
    sweep = pd.read_csv(out / "success_vs_area.csv", index_col=0)
    assert list(sweep.index) == [10.0, 15.0, 25.0]
    assert "random_control: targeted_success" in sweep.columns
    assert "patch_eot: targeted_success" in sweep.columns
    assert (out / "patch.pdf").read_bytes().startswith(b"%PDF")


def test_missing_victim_names_the_import_command(tmp_path, capsys):
    argv = [
        "--pipeline=adversarial_patch",
        "--preset=imagenet",
        f"--victim_model={tmp_path / 'none.keras'}",
        f"--output_dir={tmp_path / 'run'}",
    ]
    assert exits_2_with_one_error(argv, capsys, "poison-tf-import --source=efficientnet_lite0")
