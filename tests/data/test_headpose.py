"""Head-pose readers: angles and conventions per format, face crops, and one clear error per bad input."""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from poison_tf.data.headpose import biwi_angles, load_headpose_source
from poison_tf.errors import UserInputError

FACE, BACK = (200, 40, 30), (20, 180, 60)
SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared"


def _image(path, size=(64, 48), box=None, fmt=None):
    """A BACK image with the (x0, y0, x1, y1) region painted FACE."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8) + np.array(BACK, np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        pixels[y0:y1, x0:x1] = FACE
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def _all(images, colour):
    return bool(np.all(np.abs(images.astype(int) - np.array(colour)) <= 1))


def _csv(tmp_path, lines, name="poses.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# --- csv -------------------------------------------------------------------------------------


def test_csv_reads_angles_and_crops_to_the_face_box(tmp_path):
    _image(tmp_path / "img" / "a.png", box=(10, 5, 30, 25))
    absolute = _image(tmp_path / "b.png", box=(0, 0, 64, 48))
    path = _csv(
        tmp_path,
        [
            "image,yaw,pitch,roll,x_min,y_min,w,h",
            "img/a.png,10.5,-20,3,10,5,20,20",
            f"{absolute},-179.5,0,180,,,,",
        ],
    )
    images, angles = load_headpose_source("csv", path, 16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert angles.dtype == np.float32
    np.testing.assert_allclose(angles, [[10.5, -20, 3], [-179.5, 0, 180]])
    assert _all(images, FACE)


def test_csv_without_box_columns_keeps_the_whole_image(tmp_path):
    _image(tmp_path / "a.png", box=(0, 0, 32, 48))
    images, _ = load_headpose_source(
        "csv", _csv(tmp_path, ["image,yaw,pitch,roll", "a.png,1,2,3"]), 16
    )
    assert _all(images[:, :, :6], FACE) and _all(images[:, :, 10:], BACK)


BAD_CSV = {
    "missing column": (["image,yaw,pitch", "a.png,1,2"], "missing column", None),
    "missing angle": (
        ["image,yaw,pitch,roll", "a.png,1,2,3", "a.png,1,,3"],
        "missing value for 'pitch'",
        "row 2",
    ),
    "non-numeric angle": (["image,yaw,pitch,roll", "a.png,left,2,3"], "not a number", "row 1"),
    "nan angle": (["image,yaw,pitch,roll", "a.png,1,2,3", "a.png,NaN,2,3"], "finite", "row 2"),
    "inf angle": (["image,yaw,pitch,roll", "a.png,1,-inf,3"], "finite", "row 1"),
    "angle out of range": (
        ["image,yaw,pitch,roll", "a.png,1,2,3", "a.png,1,2,181"],
        "outside [-180, 180]",
        "row 2",
    ),
    "missing image": (["image,yaw,pitch,roll", "nothere.png,1,2,3"], "does not exist", "row 1"),
    "not an image": (["image,yaw,pitch,roll", "notes.png,1,2,3"], "cannot decode", "row 1"),
    "corrupt image": (
        ["image,yaw,pitch,roll", "a.png,1,2,3", "cut.png,1,2,3"],
        "cannot decode",
        "row 2",
    ),
    "box outside": (
        ["image,yaw,pitch,roll,x_min,y_min,w,h", "a.png,1,2,3,50,5,20,20"],
        "outside the 64x48",
        "row 1",
    ),
    "box empty": (
        ["image,yaw,pitch,roll,x_min,y_min,w,h", "a.png,1,2,3,5,5,0,20"],
        "positive width",
        "row 1",
    ),
    "partial box columns": (
        ["image,yaw,pitch,roll,x_min,y_min", "a.png,1,2,3,1,1"],
        "all of",
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_names_file_row_and_problem(tmp_path, case):
    lines, problem, row = BAD_CSV[case]
    _image(tmp_path / "a.png")
    (tmp_path / "notes.png").write_text("not a png")
    good = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    path = _csv(tmp_path, lines)
    with pytest.raises(UserInputError) as err:
        load_headpose_source("csv", path, 16)
    message = str(err.value)
    assert path in message and problem in message
    if row:
        assert row in message
    if case in ("missing image", "not an image", "corrupt image"):
        assert lines[-1].split(",")[0] in message  # the image file is named too


def test_missing_csv_and_empty_csv(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_headpose_source("csv", str(tmp_path / "none.csv"), 16)
    with pytest.raises(UserInputError, match="no csv head-pose records"):
        load_headpose_source("csv", _csv(tmp_path, ["image,yaw,pitch,roll"]), 16)


def test_unknown_format_lists_the_valid_names():
    with pytest.raises(UserInputError) as err:
        load_headpose_source("300wlp", "/x", 16)
    assert all(name in str(err.value) for name in ("pandora", "biwi", "aflw2000", "csv", "opal23"))


# --- opal23 ----------------------------------------------------------------------------------


def _opal(tmp_path, rows):
    _image(
        tmp_path / "seq" / "hdImgs" / "00_00" / "f.jpg",
        size=(80, 60),
        box=(40, 10, 70, 40),
        fmt="PNG",
    )
    label = tmp_path / "panoptic_labels.txt"
    label.write_text("\n".join(["#;image;x_min;y_min;w;h;yaw;pitch;roll", *rows]) + "\n")
    return label


def test_opal23_folder_or_file_reads_angles_and_box(tmp_path):
    label = _opal(
        tmp_path,
        [
            "seq/hdImgs/00_00/f.jpg;40;10;30;30;-174.77;-36.01;-1.38",
            "seq/hdImgs/00_00/f.jpg;45;15;20;20;88.9;-82.1;26.6",
        ],
    )
    for path in (tmp_path, label):
        images, angles = load_headpose_source("opal23", str(path), 20)
        assert images.shape == (2, 20, 20, 3) and _all(images, FACE)
        np.testing.assert_allclose(
            angles, [[-174.77, -36.01, -1.38], [88.9, -82.1, 26.6]], rtol=1e-6
        )


def test_opal23_bad_rows_name_the_line(tmp_path):
    label = _opal(
        tmp_path,
        ["seq/hdImgs/00_00/f.jpg;40;10;30;30;1;2;3", "seq/hdImgs/00_00/f.jpg;40;10;30;30;1;2"],
    )
    with pytest.raises(UserInputError, match=rf"{label} line 3: expected 8"):
        load_headpose_source("opal23", str(tmp_path), 20)
    label.write_text(
        "#;image;x_min;y_min;w;h;yaw;pitch;roll\nseq/hdImgs/00_00/f.jpg;70;10;30;30;1;2;3\n"
    )
    with pytest.raises(UserInputError, match=rf"{label} line 2: face box .* outside"):
        load_headpose_source("opal23", str(label), 20)


def test_opal23_coco_like_json(tmp_path):
    _image(tmp_path / "face.tif", size=(50, 70), box=(5, 20, 45, 60), fmt="TIFF")
    doc = {
        "images": [{"id": 0, "file_name": "face.tif"}],
        "annotations": [{"image_id": 0, "bbox": [5.0, 20.0, 40.0, 40.0], "pose": [37.4, 8.5, 3.4]}],
    }
    (tmp_path / "example.json").write_text(json.dumps(doc))
    images, angles = load_headpose_source("opal23", str(tmp_path / "example.json"), 16)
    assert _all(images, FACE)
    np.testing.assert_allclose(angles, [[37.4, 8.5, 3.4]], rtol=1e-6)


@pytest.mark.real_data
def test_opal23_real_samples():
    folder = SHARED / "datasets" / "headpose-opal23-samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not present")
    images, angles = load_headpose_source("opal23", str(folder), 64)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8 and images.std() > 5
    np.testing.assert_allclose(
        angles[0], [-5.416420723037258, -8.886786749874412, -5.377331981589008], rtol=1e-6
    )
    assert abs(angles[1, 0]) > 170  # a back-of-head view: full-range yaw is kept
    images, angles = load_headpose_source("opal23", str(folder / "example.json"), 64)
    assert images.shape == (1, 64, 64, 3)
    np.testing.assert_allclose(angles[0], [37.4253, 8.47593, 3.37398], rtol=1e-6)


# --- aflw2000 --------------------------------------------------------------------------------


def _aflw(folder, name, pose_radians, landmarks=True, image=True):
    folder.mkdir(parents=True, exist_ok=True)
    # landmark box x 30..50, y 30..50: enlarged by k=0.2 → x 22..58, y 22..52.4
    if image:
        _image(folder / f"{name}.jpg", size=(80, 80), box=(22, 22, 59, 53), fmt="PNG")
    mat = {"Pose_Para": np.array([[*pose_radians, 0.0, 0.0, 0.0, 1.0]])}
    if landmarks:
        xs, ys = np.linspace(30, 50, 68), np.linspace(50, 30, 68)
        mat["pt3d_68"] = np.stack([xs, ys, np.zeros(68)])
    savemat(folder / f"{name}.mat", mat)


def test_aflw2000_converts_radians_reorders_and_crops_to_landmarks(tmp_path):
    _aflw(tmp_path, "image00002", [0.1, -0.5, math.pi / 4])  # pitch, yaw, roll
    _aflw(tmp_path, "image00004", [0.0, 0.0, 0.0], landmarks=False)
    images, angles = load_headpose_source("aflw2000", str(tmp_path), 24)
    assert images.shape == (2, 24, 24, 3)
    np.testing.assert_allclose(angles[0], [math.degrees(-0.5), math.degrees(0.1), 45.0], rtol=1e-5)
    assert _all(images[0], FACE)  # exactly the enlarged landmark box
    assert _all(images[1, :2], BACK) and _all(images[1, 12, 12], FACE)  # no landmarks: whole image


def test_aflw2000_bad_files(tmp_path):
    _aflw(tmp_path / "a", "image00002", [0.1, 0.2, 0.3], image=False)
    with pytest.raises(
        UserInputError, match=r"image00002.mat: image file .*image00002.jpg does not exist"
    ):
        load_headpose_source("aflw2000", str(tmp_path / "a"), 24)
    (tmp_path / "b").mkdir()
    savemat(tmp_path / "b" / "image00003.mat", {"pt2d": np.zeros((2, 21))})
    with pytest.raises(UserInputError, match="image00003.mat: no 'Pose_Para'"):
        load_headpose_source("aflw2000", str(tmp_path / "b"), 24)
    (tmp_path / "b" / "image00003.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(UserInputError, match="image00003.mat: cannot read"):
        load_headpose_source("aflw2000", str(tmp_path / "b"), 24)
    (tmp_path / "c").mkdir()
    with pytest.raises(UserInputError, match="no aflw2000 head-pose records"):
        load_headpose_source("aflw2000", str(tmp_path / "c"), 24)


# --- biwi ------------------------------------------------------------------------------------


def _rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _biwi_rotation(yaw, pitch, roll):
    """The `_pose.txt` matrix R with Rᵀ = Rz(-roll)·Ry(-yaw)·Rx(pitch) (Hopenet's decomposition)."""
    y, p, r = np.radians([yaw, pitch, roll])
    return (_rz(-r) @ _ry(-y) @ _rx(p)).T


def test_biwi_angles_convention():
    np.testing.assert_allclose(biwi_angles(_ry(math.radians(30))), [30, 0, 0], atol=1e-9)
    np.testing.assert_allclose(biwi_angles(_rx(math.radians(20))), [0, -20, 0], atol=1e-9)
    np.testing.assert_allclose(biwi_angles(_biwi_rotation(-40, 25, 10)), [-40, 25, 10], atol=1e-9)


def test_biwi_reads_pose_files_and_centre_crops(tmp_path):
    for seq, frame, angles in (("01", 3, (-40, 25, 10)), ("02", 7, (60, -5, -15))):
        folder = tmp_path / seq
        _image(folder / f"frame_{frame:05d}_rgb.png", size=(64, 48), box=(8, 0, 56, 48))
        rot = _biwi_rotation(*angles)
        text = "\n".join(" ".join(f"{v:.9f}" for v in row) + " " for row in rot)
        (folder / f"frame_{frame:05d}_pose.txt").write_text(text + "\n\n12.5 30.25 980.0 \n")
    (tmp_path / "01" / "depth.cal").write_text("ignored")
    images, angles = load_headpose_source("biwi", str(tmp_path), 16)
    assert images.shape == (2, 16, 16, 3) and _all(images, FACE)
    np.testing.assert_allclose(angles, [[-40, 25, 10], [60, -5, -15]], atol=1e-5)


def test_biwi_bad_pose_file_and_missing_frame(tmp_path):
    (tmp_path / "01").mkdir()
    pose = tmp_path / "01" / "frame_00000_pose.txt"
    pose.write_text("1 0 0\n0 1 0\n")
    with pytest.raises(UserInputError, match=rf"{pose}: expected a 3x3 rotation .*got 6"):
        load_headpose_source("biwi", str(tmp_path), 16)
    pose.write_text("1 0 0\n0 1 0\n0 0 1\n\n0 0 900\n")
    with pytest.raises(
        UserInputError,
        match=r"frame_00000_pose.txt: image file .*frame_00000_rgb.png does not exist",
    ):
        load_headpose_source("biwi", str(tmp_path), 16)
    with pytest.raises(UserInputError, match="dataset folder does not exist"):
        load_headpose_source("biwi", str(tmp_path / "none"), 16)


# --- pandora ---------------------------------------------------------------------------------


def test_pandora_reads_nested_sequences(tmp_path):
    seq = tmp_path / "10" / "base_1_ID10" / "base_1_ID10"  # tolerated extra nesting
    frames = [
        {
            "frame_num": 12,
            "orientation": {"yaw": -33.5, "pitch": 12.0, "roll": 4.5},
            "head_center": [1, 2, 3],
        },
        {"frame_num": 3, "orientation": {"yaw": 70, "pitch": -8, "roll": 0}},
    ]
    for f in frames:
        _image(seq / "RGB" / f"{f['frame_num']:06d}_RGB.png", size=(48, 64), box=(0, 8, 48, 56))
    (seq / "data.json").write_text(json.dumps(frames))
    images, angles = load_headpose_source("pandora", str(tmp_path), 16)
    assert images.shape == (2, 16, 16, 3) and _all(images, FACE)
    np.testing.assert_allclose(angles, [[-33.5, 12, 4.5], [70, -8, 0]])


def test_pandora_bad_data_json(tmp_path):
    seq = tmp_path / "s" / "q"
    seq.mkdir(parents=True)
    data = seq / "data.json"
    data.write_text(json.dumps([{"frame_num": 1, "yaw": 3}]))
    with pytest.raises(
        UserInputError, match=rf"{data} frame entry 0: needs 'frame_num' and 'orientation'"
    ):
        load_headpose_source("pandora", str(tmp_path), 16)
    data.write_text("[{")
    with pytest.raises(UserInputError, match=rf"{data}: not valid JSON"):
        load_headpose_source("pandora", str(tmp_path), 16)
    data.write_text(
        json.dumps([{"frame_num": 1, "orientation": {"yaw": 1, "pitch": 2, "roll": 3}}])
    )
    with pytest.raises(
        UserInputError, match=r"frame entry 0: image file .*1_RGB.png does not exist"
    ):
        load_headpose_source("pandora", str(tmp_path), 16)


# --- HeadPoseExampleGen on a csv source ------------------------------------------------------


def test_example_gen_writes_splits_from_csv_and_nothing_for_a_bad_one(tmp_path):
    from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen
    from poison_tf.data import image_examples

    rows = ["image,yaw,pitch,roll"]
    for i in range(10):
        _image(tmp_path / f"f{i}.png", box=(0, 0, 10 + 4 * i, 48))
        rows.append(f"f{i}.png,{i * 10 - 45},{i},{-i}")
    path = _csv(tmp_path, rows)
    params = {"source": f"csv:{path}", "image_size": 32, "num_shards": 1, "test_fraction": 0.2}
    examples = HeadPoseExampleGen.run_standalone({}, params, str(tmp_path / "out"))["examples"]
    assert examples.properties["train"] == 8 and examples.properties["test"] == 2
    schema = image_examples.read_schema(examples.uri)
    assert schema["label"]["names"] == ["yaw", "pitch", "roll"]
    labels = [
        e["label"]
        for s in ("train", "test")
        for e in image_examples.image_examples_dataset(examples.uri, s).as_numpy_iterator()
    ]
    assert sorted(round(float(v[0])) for v in labels) == [i * 10 - 45 for i in range(10)]

    bad = _csv(tmp_path, [*rows, "f0.png,1,2,nan"], name="bad.csv")
    out = tmp_path / "bad_out"
    with pytest.raises(UserInputError, match="bad.csv row 11"):
        HeadPoseExampleGen.run_standalone({}, dict(params, source=f"csv:{bad}"), str(out))
    home = out / "HeadPoseExampleGen"
    assert not home.exists() or all(name.startswith(".") for name in os.listdir(home))
