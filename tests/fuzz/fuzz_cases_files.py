"""Fuzz cases of poison-tf-eval: file-system mistakes, malformed HackML data, model and detector
files."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import h5py
import numpy as np
from fuzz_case_base import BaseInputs, case, dangling, make_dir, out, put, unreadable
from fuzz_inputs import write_data_h5


def _eval(tmp, base, data=None, model=None, detector=None, extra=()) -> list[str]:
    argv = [str(data or base.data_h5), str(model or base.model_h5)]
    if detector is not None:
        argv.append(str(detector))
    return [*argv, f"--output={out(tmp) / 'scores.csv'}", *extra]


for _what in ("data", "model", "detector"):

    def _args(tmp, base, path, what=_what):
        return _eval(
            tmp, base,
            data=path if what == "data" else None,
            model=path if what == "model" else None,
            detector=path if what == "detector" else (base.detector_h5 if what == "x" else None),
        )  # fmt: skip

    case(f"eval/{_what}_is_directory", "eval")(lambda t, b, a=_args: a(t, b, make_dir(t, "d.h5")))
    case(f"eval/{_what}_dangling_symlink", "eval")(
        lambda t, b, a=_args: a(t, b, dangling(t, "link.h5"))
    )
    case(f"eval/{_what}_empty_file", "eval")(
        lambda t, b, a=_args: (t / "e.h5").write_bytes(b"") or a(t, b, t / "e.h5")
    )
    case(f"eval/{_what}_not_hdf5", "eval")(
        lambda t, b, a=_args: put(t / "e.h5", "hello") or a(t, b, t / "e.h5")
    )

case("eval/data_unreadable", "eval", needs_non_root=True)(
    lambda t, b: _eval(t, b, data=unreadable(t, b.data_h5, "d.h5"))
)
case("eval/model_unreadable", "eval", needs_non_root=True)(
    lambda t, b: _eval(t, b, model=unreadable(t, b.model_h5, "m.h5"))
)
case("eval/output_parent_is_file", "eval")(
    lambda t, b: put(t / "file", "x") or [str(b.data_h5), str(b.model_h5),
                                                  f"--output={t / 'file' / 'scores.csv'}"]
)  # fmt: skip
case("eval/output_is_directory", "eval")(
    lambda t, b: out(t).mkdir() or [str(b.data_h5), str(b.model_h5), f"--output={out(t)}"]
)
case("eval/batch_size_zero", "eval")(lambda t, b: _eval(t, b, extra=["--batch_size=0"]))
case("eval/too_many_arguments", "eval")(lambda t, b: [*_eval(t, b), "x", "y"])


# ----------------------------------------------------------------------------- HackML data
def _data(tmp: pathlib.Path, **datasets) -> pathlib.Path:
    """A data file whose datasets are given as kwargs (value or (shape, dtype, chunks))."""
    path = tmp / "data.h5"
    with h5py.File(path, "w", libver="latest") as handle:
        for key, value in datasets.items():
            if isinstance(value, dict):
                handle.create_dataset(key, **value)
            else:
                handle.create_dataset(key, data=value)
    return path


IMAGES = np.random.default_rng(3).uniform(0, 255, (6, 3, 55, 47)).astype("float32")
LABELS = (np.arange(6) % 3).astype("float32")
HUGE = 10**12

DATA_VARIANTS = {
    "null_dataspace_images": dict(data=h5py.Empty("f4"), label=LABELS),
    "null_dataspace_labels": dict(data=IMAGES, label=h5py.Empty("f4")),
    "huge_declared_shape": dict(
        data=dict(shape=(HUGE, 3, 55, 47), dtype="f4", chunks=(1, 3, 55, 47)),
        label=dict(shape=(HUGE,), dtype="f4", chunks=(4096,)),
    ),
    "huge_declared_labels_only": dict(
        data=IMAGES, label=dict(shape=(HUGE,), dtype="f4", chunks=(4096,))
    ),
    "pixels_far_above_255": dict(data=IMAGES * 1e6, label=LABELS),
    "negative_pixels": dict(data=IMAGES - 1000.0, label=LABELS),
    "nan_pixels": dict(data=np.where(IMAGES > 128, np.nan, IMAGES).astype("f4"), label=LABELS),
    "inf_pixels": dict(data=np.where(IMAGES > 128, np.inf, IMAGES).astype("f4"), label=LABELS),
    "float_labels": dict(data=IMAGES, label=LABELS + 0.5),
    "labels_out_of_range": dict(data=IMAGES, label=LABELS + 40),
    "labels_beyond_int64": dict(data=IMAGES, label=np.full(6, 1e30, "f8")),
    "negative_labels": dict(data=IMAGES, label=-LABELS - 1),
    "nan_labels": dict(data=IMAGES, label=np.full(6, np.nan, "f4")),
    "string_labels": dict(data=IMAGES, label=np.array([b"a"] * 6)),
    "string_images": dict(data=np.array([b"x"] * 6), label=LABELS),
    "images_3d": dict(data=IMAGES[:, 0], label=LABELS),
    "channels_last": dict(data=IMAGES.transpose(0, 2, 3, 1), label=LABELS),
    "zero_images": dict(data=IMAGES[:0], label=LABELS[:0]),
    "label_count_mismatch": dict(data=IMAGES, label=LABELS[:4]),
    "missing_label": dict(data=IMAGES),
    "compound_labels": dict(data=IMAGES, label=np.zeros(6, dtype=[("a", "f4"), ("b", "i4")])),
    "wrong_image_size": dict(data=IMAGES[:, :, :30, :30], label=LABELS),
}
for _name, _datasets in DATA_VARIANTS.items():
    case(f"eval/data_{_name}", "eval")(lambda t, b, d=_datasets: _eval(t, b, data=_data(t, **d)))


def _corrupt_object_headers(path: pathlib.Path, skip: int = 1) -> None:
    """Overwrites the bytes after every `OHDR` signature but the first `skip` (root group)."""
    raw = bytearray(path.read_bytes())
    start, seen = 0, 0
    while (found := raw.find(b"OHDR", start)) >= 0:
        if seen >= skip:
            raw[found + 4 : found + 24] = b"\xff" * 20
        seen, start = seen + 1, found + 4
    path.write_bytes(bytes(raw))


@case("eval/data_corrupted_object_header", "eval")
def _(tmp, base):
    path = _data(tmp, data=IMAGES, label=LABELS)
    _corrupt_object_headers(path)
    return _eval(tmp, base, data=path)


@case("eval/data_truncated", "eval")
def _(tmp, base):
    write_data_h5(tmp / "d.h5")
    raw = (tmp / "d.h5").read_bytes()
    (tmp / "d.h5").write_bytes(raw[: len(raw) // 2])
    return _eval(tmp, base, data=tmp / "d.h5")


# ----------------------------------------------------------------------------- model files
def _model_attr(tmp: pathlib.Path, **attrs) -> pathlib.Path:
    path = tmp / "model.h5"
    with h5py.File(path, "w", libver="latest") as handle:
        for key, value in attrs.items():
            handle.attrs[key] = value
    return path


def _nested_layer(depth: int) -> dict:
    layer: dict = {"class_name": "Dense", "config": {"name": "d", "units": 2}}
    for i in range(depth):
        layer = {"class_name": "TimeDistributed", "config": {"name": f"t{i}", "layer": layer}}
    return layer


MODEL_CONFIGS = {
    "config_deep_json": "[" * 100_000 + "]" * 100_000,
    "config_deep_layers": json.dumps(
        {"class_name": "Functional", "config": {"layers": [_nested_layer(2000)]}}
    )
    if False
    else None,  # built lazily below (json.dumps itself recurses)
    "config_not_json": "{not json",
    "config_a_list": "[1, 2, 3]",
    "config_lambda": json.dumps(
        {
            "class_name": "Sequential",
            "config": {
                "layers": [{"class_name": "Lambda", "config": {"name": "l", "function": "x"}}]
            },
        }
    ),  # fmt: skip
    "config_custom_layer": json.dumps(
        {
            "class_name": "Sequential",
            "config": {
                "layers": [
                    {"class_name": "Evil", "registered_name": "evil>Evil", "config": {"name": "e"}}
                ]
            },
        }
    ),  # fmt: skip
    "config_non_utf8": b"\xff\xfe{" + b"\x80" * 10,
}


def _deep_layers_json(depth: int) -> str:
    text = '{"class_name": "Dense", "config": {"name": "d", "units": 2}}'
    for i in range(depth):
        text = f'{{"class_name": "TimeDistributed", "config": {{"name": "t{i}", "layer": {text}}}}}'
    return '{"class_name": "Functional", "config": {"layers": [' + text + "]}}"


MODEL_CONFIGS["config_deep_layers"] = _deep_layers_json(900)
for _name, _config in MODEL_CONFIGS.items():
    value = np.void(_config) if isinstance(_config, bytes) else _config
    case(f"eval/model_{_name}", "eval")(
        lambda t, b, v=value: _eval(t, b, model=_model_attr(t, model_config=v))
    )


def _edited_h5(source: pathlib.Path, path: pathlib.Path, edit) -> pathlib.Path:
    """A copy of the h5 file `source` at `path`, with `edit(handle)` applied."""
    shutil.copy(source, path)
    with h5py.File(path, "r+") as handle:
        edit(handle)
    return path


def _weights_file(tmp: pathlib.Path, base: BaseInputs, edit) -> pathlib.Path:
    """A copy of the base weights-only model with `edit(handle)` applied."""
    return _edited_h5(base.model_h5, tmp / "model.h5", edit)


def _replace(group: h5py.Group, key: str, value) -> None:
    del group[key]
    group[key] = value


WEIGHT_EDITS = {
    "layer_names_scalar_int": lambda h: h.attrs.__setitem__("layer_names", 5),
    "layer_names_floats": lambda h: h.attrs.__setitem__("layer_names", np.arange(7.0)),
    "weight_names_scalar": lambda h: h["conv_1"].attrs.__setitem__("weight_names", 3),
    "weight_strings": lambda h: _replace(h["conv_1"], "conv_1/bias:0", np.array([b"ab"] * 20)),
    "weight_compound_dtype": lambda h: _replace(
        h["conv_1"], "conv_1/bias:0", np.zeros(20, dtype=[("a", "f4"), ("b", "f4")])
    ),
    "weight_is_group": lambda h: (
        h["conv_1"].__delitem__("conv_1/bias:0") or h["conv_1"].create_group("conv_1/bias:0")
    ),
    "weight_nan": lambda h: _replace(
        h["conv_1"], "conv_1/kernel:0", np.full(h["conv_1"]["conv_1/kernel:0"].shape, np.nan, "f4")
    ),
    "weight_inf_bias": lambda h: _replace(h["output"], "output/bias:0", np.full(3, np.inf, "f4")),
    "weight_null_dataspace": lambda h: _replace(h["conv_1"], "conv_1/bias:0", h5py.Empty("f4")),
    "weight_wrong_shape": lambda h: _replace(h["fc_1"], "fc_1/bias:0", np.zeros(7, "f4")),
    "missing_layer": lambda h: h.attrs.__setitem__("layer_names", np.array([b"conv_1", b"conv_2"])),
    "output_single_class": lambda h: _replace(h["output"], "output/bias:0", np.zeros(1, "f4")),
}
for _name, _edit in WEIGHT_EDITS.items():
    case(f"eval/model_{_name}", "eval")(
        lambda t, b, e=_edit: _eval(t, b, model=_weights_file(t, b, e))
    )


@case("eval/model_neither_kind", "eval")
def _(tmp, base):
    return _eval(tmp, base, model=_model_attr(tmp, something="else"))


@case("eval/model_keras_archive_without_config", "eval")
def _(tmp, base):
    import zipfile

    with zipfile.ZipFile(tmp / "m.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    return _eval(tmp, base, model=tmp / "m.keras")


# ----------------------------------------------------------------------------- detector files
def _detector_file(tmp: pathlib.Path, base: BaseInputs, edit) -> pathlib.Path:
    """A copy of the base detector file with `edit(handle)` applied."""
    return _edited_h5(base.detector_h5, tmp / "detector.h5", edit)


def _first_weight(handle: h5py.File) -> tuple[h5py.Group, str]:
    found = []
    handle.visititems(
        lambda name, obj: (
            found.append(name)
            if isinstance(obj, h5py.Dataset) and "/weights/" in f"/{name}" and obj.dtype.kind == "f"
            else None
        )
    )
    name = sorted(found)[0]
    return handle[os.path.dirname(name)], os.path.basename(name)


def _nan_weight(handle: h5py.File) -> None:
    group, key = _first_weight(handle)
    _replace(group, key, np.full(group[key].shape, np.nan, group[key].dtype))


def _set_config(handle: h5py.File, text: str) -> None:
    group, _ = _first_weight(handle)
    model = group.parent
    _replace(model, "config", np.frombuffer(text.encode(), np.uint8))


DETECTOR_EDITS = {
    "threshold_nan": lambda h: h.attrs.__setitem__("threshold", np.nan),
    "threshold_inf": lambda h: h.attrs.__setitem__("threshold", -np.inf),
    "threshold_text": lambda h: h.attrs.__setitem__("threshold", "high"),
    "no_kind": lambda h: h.attrs.__delitem__("poison_tf_detector"),
    "unknown_kind": lambda h: h.attrs.__setitem__("poison_tf_detector", "nonsense"),
    "hyperparams_deep": lambda h: h.attrs.__setitem__("hyperparams", "[" * 50000 + "]" * 50000),
    "hyperparams_list": lambda h: h.attrs.__setitem__("hyperparams", "[1]"),
    "input_shape_garbage": lambda h: h.attrs.__setitem__("input_shape", '{"a": 1}'),
    "input_shape_deep": lambda h: h.attrs.__setitem__("input_shape", "[" * 50000 + "]" * 50000),
    "weights_nan": _nan_weight,
    "model_config_deep": lambda h: _set_config(h, "[" * 50000 + "]" * 50000),
    "model_config_not_json": lambda h: _set_config(h, "{{{"),
}
for _name, _edit in DETECTOR_EDITS.items():
    case(f"eval/detector_{_name}", "eval")(
        lambda t, b, e=_edit: _eval(t, b, detector=_detector_file(t, b, e))
    )
