"""`poison-tf-import`: a good run writes model + JSON; each kind of bad input is one `error:` line,
exit status 2 and no output file."""

from __future__ import annotations

import io
import os

import keras
import pytest

torch = pytest.importorskip("torch")

from cli_runner import run_program  # noqa: E402
from torch_resnet import ResNet  # noqa: E402

from poison_tf.io import import_cli  # noqa: E402
from poison_tf.io.imported_model import read_import_metadata  # noqa: E402


@pytest.fixture(scope="module")
def resnet18_state(tmp_path_factory):
    torch.manual_seed(0)
    return ResNet(18, num_classes=7).state_dict()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run_program(import_cli.main, "poison-tf-import", list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def expect_error(capsys, tmp_path):
    """Runs the importer on `argv`; asserts one `error:` line holding every fragment, exit
    status 2, and nothing new in tmp_path (no output, no temporary left behind)."""

    def expect(argv: list[str], *fragments: str) -> str:
        before = set(os.listdir(tmp_path))
        out_path = tmp_path / "out.keras"
        code, _, err = _run(capsys, *argv, f"--output={out_path}")
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("error:"), err
        for fragment in fragments:
            assert fragment in lines[0], lines[0]
        assert set(os.listdir(tmp_path)) == before
        return lines[0]

    return expect


@pytest.fixture
def r18_file(tmp_path, resnet18_state):
    """The 7-class ResNet18 state_dict saved as a .pth file."""
    weights = tmp_path / "r18.pth"
    torch.save(resnet18_state, weights)
    return weights


def test_import_writes_model_and_json(capsys, tmp_path, r18_file):
    out = tmp_path / "sub" / "r18.keras"
    code, stdout, err = _run(
        capsys, "--source=torchvision:resnet18", f"--weights={r18_file}", f"--output={out}"
    )
    assert code == 0, err
    assert "torchvision:resnet18" in stdout and out.is_file()
    assert (tmp_path / "sub" / "r18.json").is_file()
    model = keras.models.load_model(out)
    assert model.output_shape == (None, 7)
    assert read_import_metadata(str(out))["source"] == "torchvision:resnet18"


R18 = "--source=torchvision:resnet18"


def test_other_architecture_names_missing_and_unexpected(expect_error, r18_file):
    expect_error(
        ["--source=torchvision:resnet50", f"--weights={r18_file}"],
        "does not match torchvision:resnet50",
        "missing",
        "layer1.0.conv3.weight (256, 64, 1, 1)",
    )


def test_resnet_file_as_efficientnet(expect_error, r18_file):
    expect_error(
        ["--source=efficientnet_lite0", f"--weights={r18_file}"],
        "does not match efficientnet_lite0",
        "_conv_stem.weight (32, 3, 3, 3)",
        "unexpected",
        "conv1.weight (64, 3, 7, 7)",
    )


def test_class_count_mismatch(expect_error, r18_file):
    expect_error(
        [R18, f"--weights={r18_file}", "--num_classes=1000"],
        "--num_classes=1000 does not match",
        "fc.weight (7, 512) has 7 classes",
    )


def test_foreign_tensors_are_named_unexpected(expect_error, tmp_path):
    weights = tmp_path / "lite.pth"
    torch.save({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, weights)
    expect_error(
        [R18, f"--weights={weights}"],
        "missing",
        "conv1.weight (64, 3, 7, 7)",
        "unexpected 1 tensor(s): _conv_stem.weight (32, 3, 3, 3)",
    )


def test_shape_mismatch_names_tensor(expect_error, tmp_path, resnet18_state):
    state = dict(resnet18_state, **{"layer1.0.conv2.weight": torch.zeros(64, 64, 5, 5)})
    weights = tmp_path / "bad.pth"
    torch.save(state, weights)
    expect_error(
        [R18, f"--weights={weights}"],
        "shape mismatch",
        "layer1.0.conv2.weight is (64, 64, 5, 5), needs (64, 64, 3, 3)",
    )


def _truncated(path, state) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


@pytest.mark.parametrize(
    "write, message",
    [
        (_truncated, "not a readable PyTorch file"),
        (lambda path, _: path.write_text("these are not weights\n"), "not a readable PyTorch file"),
        (lambda path, _: torch.save(torch.nn.Linear(2, 2), path), "refusing to unpickle"),
    ],
    ids=["truncated", "not torch", "pickled module"],
)
def test_unreadable_weights_file(expect_error, tmp_path, resnet18_state, write, message):
    weights = tmp_path / "weights.pth"
    write(weights, resnet18_state)
    expect_error([R18, f"--weights={weights}"], message)


def test_unknown_kind(expect_error, tmp_path):
    weights = tmp_path / "x.pth"
    weights.write_bytes(b"")
    expect_error(["--source=torchvision:vgg16", f"--weights={weights}"], "not a known kind")


def test_missing_weights_file(expect_error, tmp_path):
    expect_error([R18, f"--weights={tmp_path / 'nope.pth'}"], "no such file")
