"""Fuzz cases of poison-tf-pipeline flags and the stage programs (head-pose sources, flags)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np
from fuzz_case_base import Build, case, dangling, make_dir, out, put
from fuzz_cases_seg import ALIAS_BOMB, seg_copy


# ----------------------------------------------------------------------------- pipeline flags
def _pipeline(name: str, *flags: str) -> Build:
    return lambda t, b: [f"--pipeline={name}", "--preset=demo", f"--output_dir={out(t)}", *flags]


FLAG_CASES = {
    "badnets_regression": [
        "--epochs=0",
        "--epochs=-3",
        "--learning_rate=-0.1",
        "--learning_rate=nan",
        "--learning_rate=inf",
        "--learning_rate=0",
        "--global_batch_size=0",
        "--global_batch_size=-8",
        "--rates=",
        "--triggers=",
        "--image_size=100000",
        "--image_size=0",
        "--seed=-1",
        "--num_train=-5",
        "--num_train=0",
        "--num_test=0",
        "--rates=nan",
        "--rates=150",
        "--width=0",
        "--width=nan",
    ],
    "backdoor_detection": [
        "--epochs=0",
        "--learning_rate=nan",
        "--global_batch_size=0",
        "--triggers=",
        "--detectors=",
        "--seed=-2",
        "--rate_percent=nan",
        "--num_identities=-1",
        "--images_per_identity=-1",
    ],
    "adversarial_patch": [
        "--epochs=0",
        "--learning_rate=-1",
        "--global_batch_size=0",
        "--image_size=100000",
        "--patch_steps=0",
        "--patch_learning_rate=nan",
        "--patch_fraction=nan",
        "--seed=-1",
        "--patch_areas=",
    ],
    "instance_segmentation": [
        "--epochs=0",
        "--learning_rate=nan",
        "--global_batch_size=0",
        "--image_size=0",
        "--image_size=32000",
        "--num_train=0",
        "--num_val=0",
        "--seed=-4",
        "--max_instances=0",
    ],
    "clean_image_backdoor": ["--epochs=0", "--learning_rate=inf", "--ratio=nan", "--seed=-1"],
}
for _pipe, _flags in FLAG_CASES.items():
    for _flag in _flags:
        case(f"pipeline/{_pipe}{_flag.replace('=', '_')}", "pipeline")(_pipeline(_pipe, _flag))

case("pipeline/output_dir_parent_is_file", "pipeline")(
    lambda t, b: put(t / "f", "x") or [
        "--pipeline=badnets_regression", "--preset=demo", f"--output_dir={t / 'f' / 'run'}"]
)  # fmt: skip
case("pipeline/output_dir_is_file", "pipeline")(
    lambda t, b: out(t).mkdir() or put(out(t) / "f", "x") or [
        "--pipeline=badnets_regression", "--preset=demo", f"--output_dir={out(t) / 'f'}"]
)  # fmt: skip

case("pipeline/output_dir_unknown_scheme", "pipeline")(
    lambda t, b: ["--pipeline=badnets_regression", "--preset=demo", "--output_dir=foo://bar/run"]
)
case("pipeline/staging_dir_is_file", "pipeline")(
    lambda t, b: put(t / "f", "x") or [
        "--pipeline=badnets_regression", "--preset=demo", "--output_dir=ram://staged/run",
        f"--staging_dir={t / 'f'}"]
)  # fmt: skip
case("pipeline/output_dir_uri_is_file", "pipeline")(
    lambda t, b: out(t).mkdir() or put(out(t) / "f", "x") or [
        "--pipeline=badnets_regression", "--preset=demo", f"--output_dir=file://{out(t) / 'f'}"]
)  # fmt: skip


# ----------------------------------------------------------------------------- stage programs
def _stage(tmp, *flags) -> list[str]:
    return [*flags, f"--output_dir={out(tmp)}"]


def _headpose(kind: str, path_of) -> Build:
    def build(tmp, base):
        path = path_of(tmp, base)
        return _stage(tmp, "--component=headpose", f"--source={kind}:{path}",
                      "--image_size=32")  # fmt: skip

    return build


def _write(path: pathlib.Path, content: str | bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _csv(tmp, base, text) -> pathlib.Path:
    for image in base.headpose_root.iterdir():
        shutil.copy(image, tmp / image.name)
    return _write(tmp / "poses.csv", text)


def _mat(tmp, base, fields: dict) -> pathlib.Path:
    from scipy.io import savemat

    folder = tmp / "aflw"
    folder.mkdir()
    for i, image in enumerate(sorted(base.headpose_root.iterdir())):
        shutil.copy(image, folder / f"image{i:02d}.png")
        savemat(folder / f"image{i:02d}.mat", fields)
    return folder


def _opal_json(tmp, base, annotation: dict) -> pathlib.Path:
    shutil.copy(base.headpose_root / "face0.png", tmp / "face0.png")
    data = {"images": [{"id": 1, "file_name": "face0.png"}],
            "annotations": [dict({"image_id": 1, "bbox": [0, 0, 60, 60], "pose": [1, 2, 3]},
                                 **annotation)]}  # fmt: skip
    return _write(tmp / "labels.json", json.dumps(data))


def _pandora(tmp, base, frames) -> pathlib.Path:
    seq = tmp / "pandora" / "01"
    (seq / "RGB").mkdir(parents=True)
    shutil.copy(base.headpose_root / "face0.png", seq / "RGB" / "000001_RGB.png")
    _write(seq / "data.json", json.dumps(frames))
    return tmp / "pandora"


GOOD_CSV = "image,yaw,pitch,roll\nface0.png,1,2,3\nface1.png,4,5,6\nface2.png,7,8,9\n"
HEADPOSE = {
    "csv_not_utf8": ("csv", lambda t, b: _csv(t, b, GOOD_CSV.encode() + b"face\xff.png,1,2,3\n")),
    "csv_is_directory": ("csv", lambda t, b: make_dir(t, "poses.csv")),
    "csv_dangling_symlink": ("csv", lambda t, b: dangling(t, "poses.csv")),
    "csv_nan_angle": ("csv", lambda t, b: _csv(t, b, GOOD_CSV.replace("1,2,3", "nan,2,3"))),
    "csv_image_is_directory": (
        "csv",
        lambda t, b: (
            _csv(t, b, GOOD_CSV)
            and (t / "face0.png").unlink()
            or (t / "face0.png").mkdir()
            or t / "poses.csv"
        ),
    ),
    "csv_image_dangling_symlink": (
        "csv",
        lambda t, b: (
            _csv(t, b, GOOD_CSV)
            and (t / "face1.png").unlink()
            or os.symlink(t / "gone.png", t / "face1.png")
            or t / "poses.csv"
        ),
    ),
    "mat_pose_string": ("aflw2000", lambda t, b: _mat(t, b, {"Pose_Para": "abc"})),
    "mat_pose_cell": (
        "aflw2000",
        lambda t, b: _mat(t, b, {"Pose_Para": np.array([["a"], [1.0]], dtype=object)}),
    ),
    "mat_pose_struct": ("aflw2000", lambda t, b: _mat(t, b, {"Pose_Para": {"a": 1.0}})),
    "mat_pose_nan": ("aflw2000", lambda t, b: _mat(t, b, {"Pose_Para": np.full((1, 7), np.nan)})),
    "mat_pose_complex": (
        "aflw2000",
        lambda t, b: _mat(t, b, {"Pose_Para": np.ones((1, 7)) * (1 + 2j)}),
    ),
    "mat_landmarks_string": (
        "aflw2000",
        lambda t, b: _mat(t, b, {"Pose_Para": np.zeros((1, 7)), "pt2d": "abc"}),
    ),
    "mat_not_a_mat": (
        "aflw2000",
        lambda t, b: (
            _mat(t, b, {"Pose_Para": np.zeros((1, 7))})
            and _write(t / "aflw" / "image00.mat", b"garbage")
            and t / "aflw"
        ),
    ),
    "opal23_bbox_object": ("opal23", lambda t, b: _opal_json(t, b, {"bbox": {"x": 1}})),
    "opal23_pose_string": ("opal23", lambda t, b: _opal_json(t, b, {"pose": "abc"})),
    "opal23_pose_nested": ("opal23", lambda t, b: _opal_json(t, b, {"pose": [[1], [2], [3]]})),
    "opal23_image_id_list": ("opal23", lambda t, b: _opal_json(t, b, {"image_id": [1]})),
    "opal23_deeply_nested": (
        "opal23",
        lambda t, b: _write(t / "labels.json", "[" * 100000 + "]" * 100000),
    ),
    "pandora_frames_object": ("pandora", lambda t, b: _pandora(t, b, {"frame_num": 1})),
    "pandora_orientation_string": (
        "pandora",
        lambda t, b: _pandora(t, b, [{"frame_num": 1, "orientation": "up"}]),
    ),
    "pandora_frame_num_list": (
        "pandora",
        lambda t, b: _pandora(
            t, b, [{"frame_num": [1], "orientation": {"yaw": 1, "pitch": 2, "roll": 3}}]
        ),
    ),
    "pandora_orientation_list_of_strings": (
        "pandora",
        lambda t, b: _pandora(
            t, b, [{"frame_num": 1, "orientation": {"yaw": "a", "pitch": [], "roll": None}}]
        ),
    ),
}
for _name, (_kind, _path_of) in HEADPOSE.items():
    case(f"stage:example_gen/headpose_{_name}", "stage:example_gen")(_headpose(_kind, _path_of))

STAGE_FLAGS = {
    "example_gen": [
        ("--component=headpose", "--num_train=-1"),
        ("--component=headpose", "--num_test=0"),
        ("--component=headpose", "--image_size=0"),
        ("--component=headpose", "--seed=-5"),
        ("--component=headpose", "--image_size=99999"),
    ],
}
for _stage_name, _variants in STAGE_FLAGS.items():
    for _flags in _variants:
        case(f"stage:{_stage_name}/{'_'.join(f.strip('-') for f in _flags)}",
             f"stage:{_stage_name}")(lambda t, b, f=_flags: _stage(t, *f))  # fmt: skip


@case("stage:example_gen/seg_yaml_alias_bomb", "stage:example_gen")
def _(tmp, base):
    root = seg_copy(tmp, base)
    (root / "data.yaml").write_text(ALIAS_BOMB)
    return _stage(tmp, "--component=seg", f"--source=yolo:{root / 'data.yaml'}", "--image_size=64")


@case("stage:example_gen/seg_symlink_loop", "stage:example_gen")
def _(tmp, base):
    root = seg_copy(tmp, base)
    os.symlink(root / "images", root / "images/train/loop")
    return _stage(tmp, "--component=seg", f"--source=yolo:{root / 'data.yaml'}", "--image_size=64")


@case("stage:example_gen/output_dir_parent_is_file", "stage:example_gen")
def _(tmp, base):
    (tmp / "f").write_text("x")
    return ["--component=headpose", "--num_train=4", "--num_test=2", "--image_size=16",
            f"--output_dir={tmp / 'f' / 'o'}"]  # fmt: skip


case("stage:example_gen/output_dir_uri", "stage:example_gen")(
    lambda t, b: ["--component=headpose", "--num_train=4", "--num_test=2", "--image_size=16",
                  "--output_dir=ram://stage-out/o"]
)  # fmt: skip


TRAIN_FLAGS = [
    "--epochs=0",
    "--learning_rate=nan",
    "--learning_rate=-1",
    "--global_batch_size=0",
    "--seed=-1",
]
for _flag in TRAIN_FLAGS:
    case(f"stage:train/regressor{_flag.replace('=', '_')}", "stage:train")(
        lambda t, b, f=_flag: _stage(
            t, "--component=regressor", f"--examples={b.headpose_examples}", f
        )
    )
