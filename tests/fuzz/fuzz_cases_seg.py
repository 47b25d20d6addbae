"""Fuzz cases of poison-tf-seg-val: data.yaml, label files, image trees, COCO predictions, --weights."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

from fuzz_case_base import BaseInputs, case, dangling, make_dir, out, put, put_bytes


# ----------------------------------------------------------------------------- seg-val
def seg_copy(tmp: pathlib.Path, base: BaseInputs) -> pathlib.Path:
    root = tmp / "seg"
    shutil.copytree(base.seg_root, root, symlinks=True)
    return root


def _seg_argv(tmp, data_yaml, predictions) -> list[str]:
    return [f"--data={data_yaml}", f"--predictions={predictions}",
            f"--output={out(tmp) / 'table.csv'}"]  # fmt: skip


def _seg_with_yaml(tmp: pathlib.Path, base: BaseInputs, text: str | bytes) -> list[str]:
    root = seg_copy(tmp, base)
    path = root / "data.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return _seg_argv(tmp, path, _write_predictions(tmp, base.predictions))


def _write_predictions(tmp: pathlib.Path, entries, raw: str | bytes | None = None) -> pathlib.Path:
    path = tmp / "predictions.json"
    data = raw if raw is not None else json.dumps(entries)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    + "path: .\ntrain: images/train\nval: images/val\nnames: *i\n"
)
SPLITS = "path: .\ntrain: images/train\nval: images/val\n"
YAMLS = {
    "alias_bomb": (ALIAS_BOMB, True),
    "names_mixed_keys": (SPLITS + "names: {0: car, '1': person, 2: bus}\n", False),
    "names_string_keys": (SPLITS + "names: {'0': car, '1': person, '2': bus}\n", False),
    "names_negative_keys": (SPLITS + "names: {-1: car, 0: person, 1: bus}\n", False),
    "names_empty": (SPLITS + "names: []\n", False),
    "names_nested": (SPLITS + "names: [[car], {a: b}, bus]\n", False),
    "not_utf8": (b"path: .\ntrain: images/train\nval: images/val\nnames: [\xff\xfe]\n", False),
    "deeply_nested": (SPLITS + "names: " + "[" * 5000 + "]" * 5000 + "\n", False),
    "not_a_mapping": ("- a\n- b\n", False),
    "syntax_error": ("names: [car\n", False),
    "missing_split_folder": ("path: .\ntrain: nowhere\nval: nowhere\nnames: [a]\n", False),
    "split_is_a_number": ("path: .\ntrain: 5\nval: 5\nnames: [a]\n", False),
    "split_is_a_mapping": ("path: .\ntrain: {a: b}\nval: {a: b}\nnames: [a]\n", False),
    "path_is_a_list": ("path: [a, b]\ntrain: images/train\nval: images/val\nnames: [a]\n", False),
    "python_tag": (SPLITS + "names: !!python/object/apply:os.system ['true']\n", False),
}
for _name, (_text, _risky) in YAMLS.items():
    case(f"seg_val/yaml_{_name}", "seg_val", child=_risky)(
        lambda t, b, text=_text: _seg_with_yaml(t, b, text)
    )


@case("seg_val/yaml_is_directory", "seg_val")
def _(tmp, base):
    return _seg_argv(tmp, make_dir(tmp, "data.yaml"), _write_predictions(tmp, base.predictions))


@case("seg_val/yaml_dangling_symlink", "seg_val")
def _(tmp, base):
    return _seg_argv(tmp, dangling(tmp, "data.yaml"), _write_predictions(tmp, base.predictions))


@case("seg_val/yaml_unreadable", "seg_val", needs_non_root=True)
def _(tmp, base):
    root = seg_copy(tmp, base)
    (root / "data.yaml").chmod(0)
    return _seg_argv(tmp, root / "data.yaml", _write_predictions(tmp, base.predictions))


def _seg_tree(tmp: pathlib.Path, base: BaseInputs, edit) -> list[str]:
    root = seg_copy(tmp, base)
    edit(root)
    return _seg_argv(tmp, root / "data.yaml", _write_predictions(tmp, base.predictions))


LABEL = "labels/val/000000000001.txt"
TREE_EDITS = {
    "label_not_utf8": (
        lambda r: (r / LABEL).write_bytes(b"0 0.1 0.1 0.4\xff 0.1 0.4 0.5\n"),
        False,
    ),
    "label_is_directory": (lambda r: (r / LABEL).unlink() or (r / LABEL).mkdir(), False),
    "label_dangling_symlink": (
        lambda r: (r / LABEL).unlink() or os.symlink(r / "gone.txt", r / LABEL),
        False,
    ),
    "label_unreadable": (lambda r: (r / LABEL).chmod(0), False),
    "label_float_class": (lambda r: (r / LABEL).write_text("0.5 0.1 0.1 0.4 0.1 0.4 0.5\n"), False),
    "label_class_out_of_range": (
        lambda r: (r / LABEL).write_text("9 0.1 0.1 0.4 0.1 0.4 0.5\n"),
        False,
    ),
    "label_coordinates_out_of_range": (
        lambda r: (r / LABEL).write_text("0 0.1 0.1 40 0.1 0.4 0.5\n"),
        False,
    ),
    "label_nan_coordinate": (
        lambda r: (r / LABEL).write_text("0 nan 0.1 0.4 0.1 0.4 0.5\n"),
        False,
    ),
    "label_two_points": (lambda r: (r / LABEL).write_text("0 0.1 0.1 0.4 0.1\n"), False),
    "image_dangling_symlink": (
        lambda r: os.symlink(r / "gone.png", r / "images/val/000000000009.png"),
        False,
    ),
    "image_folder_symlink_loop": (lambda r: os.symlink(r / "images", r / "images/val/loop"), True),
    "image_folder_two_symlink_loops": (
        lambda r: (
            os.symlink(r / "images", r / "images/val/loop1")
            or os.symlink(r / "images/val", r / "images/val/loop2")
        ),
        True,
    ),
    "image_symlink_to_itself": (
        lambda r: os.symlink(r / "images/val/self.png", r / "images/val/self.png"),
        True,
    ),
    "list_file_not_utf8": (
        lambda r: (
            put_bytes(r / "val.txt", b"images/val/\xff.png\n")
            or (r / "data.yaml").write_text(
                SPLITS.replace("images/val", "val.txt") + "names: [a, b, c]\n"
            )
        ),
        False,
    ),
    "list_file_is_directory": (
        lambda r: (
            (r / "val.txt").mkdir()
            or (r / "data.yaml").write_text(
                SPLITS.replace("images/val", "val.txt") + "names: [a, b, c]\n"
            )
        ),
        False,
    ),
    "no_images": (lambda r: [p.unlink() for p in (r / "images/val").iterdir()], False),
}
for _name, (_edit, _risky) in TREE_EDITS.items():
    case(
        f"seg_val/tree_{_name}", "seg_val", child=_risky,
        needs_non_root=_name.endswith("unreadable"),
    )(lambda t, b, e=_edit: _seg_tree(t, b, e))  # fmt: skip


def _seg_predictions(tmp, base, entries=None, raw=None) -> list[str]:
    return _seg_argv(tmp, base.data_yaml, _write_predictions(tmp, entries, raw))


def _with(base: BaseInputs, **changes) -> list:
    return [dict(entry, **changes) for entry in base.predictions]


def _rle(counts) -> dict:
    return {"size": [40, 60], "counts": counts}


PREDICTIONS = {
    "image_id_list": (lambda b: _with(b, image_id=[1]), False),
    "image_id_object": (lambda b: _with(b, image_id={"id": 1}), False),
    "image_id_float": (lambda b: _with(b, image_id=1.5), False),
    "image_id_bool": (lambda b: _with(b, image_id=True), False),
    "category_list": (lambda b: _with(b, category_id=[0]), False),
    "category_out_of_range": (lambda b: _with(b, category_id=7), False),
    "bbox_object": (lambda b: _with(b, bbox={"x": 1}), False),
    "bbox_negative_size": (lambda b: _with(b, bbox=[1, 1, -4, 5]), False),
    "bbox_huge": (lambda b: _with(b, bbox=[1e308, 1e308, 1e308, 1e308]), False),
    "score_text": (lambda b: _with(b, score="high"), False),
    "score_null": (lambda b: _with(b, score=None), False),
    "entry_not_object": (lambda b: [1, 2, 3], False),
    "top_level_object": (lambda b: {"image_id": 1}, False),
    "rle_counts_int": (lambda b: _with(b, segmentation=_rle(5)), True),
    "rle_counts_null": (lambda b: _with(b, segmentation=_rle(None)), True),
    "rle_counts_garbage": (lambda b: _with(b, segmentation=_rle("\x00\x01garbage~~~")), True),
    "rle_counts_negative": (lambda b: _with(b, segmentation=_rle([-5, 2400, 5])), True),
    "rle_counts_wrong_area": (lambda b: _with(b, segmentation=_rle([10, 20, 30])), True),
    "rle_counts_floats": (lambda b: _with(b, segmentation=_rle([1.5, 2398.5])), True),
    "rle_counts_too_long": (lambda b: _with(b, segmentation=_rle("0" * 100000)), True),
    "rle_size_strings": (
        lambda b: _with(b, segmentation={"size": ["40", "60"], "counts": "PP"}),
        True,
    ),
    "polygon_huge_coordinates": (
        lambda b: _with(b, segmentation=[[1e300, 1e300, -1e300, 5, 5, 1e300]]),
        True,
    ),
    "polygon_int64_overflow": (
        lambda b: _with(b, segmentation=[[2**62, 0, 0, 2**62, 2**62, 2**62]]),
        True,
    ),
    "polygon_odd_length": (lambda b: _with(b, segmentation=[[1, 2, 3, 4, 5, 6, 7]]), False),
    "polygon_strings": (lambda b: _with(b, segmentation=[["1", "2", "3", "4", "5", "6"]]), False),
    "segmentation_int": (lambda b: _with(b, segmentation=5), False),
}
for _name, (_make, _risky) in PREDICTIONS.items():
    case(f"seg_val/predictions_{_name}", "seg_val", child=_risky)(
        lambda t, b, m=_make: _seg_predictions(t, b, m(b))
    )

RAW_PREDICTIONS = {
    "deeply_nested": "[" * 200_000 + "]" * 200_000,
    "moderately_nested": "[" * 500 + "]" * 500,
    "nan_score": '[{"image_id": 1, "category_id": 0, "bbox": [1, 1, 2, 2], "score": NaN}]',
    "not_utf8": b'[{"image_id": "\xff", "category_id": 0}]',
    "not_json": "[{",
    "empty_file": "",
}
for _name, _raw in RAW_PREDICTIONS.items():
    case(f"seg_val/predictions_{_name}", "seg_val")(
        lambda t, b, r=_raw: _seg_predictions(t, b, raw=r)
    )

case("seg_val/predictions_is_directory", "seg_val")(
    lambda t, b: _seg_argv(t, b.data_yaml, make_dir(t, "p.json"))
)
case("seg_val/predictions_dangling_symlink", "seg_val")(
    lambda t, b: _seg_argv(t, b.data_yaml, dangling(t, "p.json"))
)
case("seg_val/output_parent_is_file", "seg_val")(
    lambda t, b: put(t / "f", "x") or [
        f"--data={b.data_yaml}", f"--predictions={_write_predictions(t, b.predictions)}",
        f"--output={t / 'f' / 'table.csv'}"]
)  # fmt: skip
case("seg_val/weights_is_a_classifier", "seg_val")(
    lambda t, b: [f"--data={b.data_yaml}", f"--weights={b.model_keras}",
                  f"--output={out(t) / 'table.csv'}"]
)  # fmt: skip
case("seg_val/weights_is_weights_only_classifier", "seg_val")(
    lambda t, b: [f"--data={b.data_yaml}", f"--weights={b.model_h5}",
                  f"--output={out(t) / 'table.csv'}"]
)  # fmt: skip
case("seg_val/weights_is_directory", "seg_val")(
    lambda t, b: [f"--data={b.data_yaml}", f"--weights={make_dir(t, 'w.keras')}"]
)
