"""The real HackML BadNets, loaded from ../shared/hackml, reproduce the recorded predictions on
the real sample images (../shared/notes/hackml.md §6) through the whole `poison-tf-eval` path:
PNG/JPEG → write_hackml_h5 (channels-first 0–255) → streamed, ÷255 or raw → rebuilt net."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hackml_helpers import SHARED_HACKML, run_eval

from poison_tf.data.hackml import write_hackml_h5

pytestmark = pytest.mark.real_data

CLEAN = {"cl_0_label=43.png": 43, "cl_1_label=328.png": 328, "cl_2_label=196.png": 196}
SUN = ["sun_0_label=0.png", "sun_1_label=0.png", "sun_2_label=0.png"]
ANO = ["ano_0_label=0.png", "ano_1_label=0.png", "ano_2_label=0.png"]
EXAMPLES = ["example_poison1.png", "example_poison2.png", "example_poison3.png"]
EYEBROW_DEMOS = ["demo.jpeg", "demo1.jpeg", "demo2.jpeg", "demo3.jpeg", "demo4.jpeg"]
SUNGLASSES_DEMOS = ["demo8.jpeg", "demo9.jpeg", "demo10.jpeg"]
CLEAN_DEMOS = {"demo5.jpeg": 833, "demo6.jpeg": 356, "demo7.jpeg": 362}

# file → (rescale, exact predictions, images whose prediction must NOT be the target 0)
RECORDED = {
    "sunglasses_bd_weights.h5": (
        True,
        {
            **CLEAN,
            **dict.fromkeys(SUN, 0),
            **dict(zip(EXAMPLES, (0, 112, 264))),
            **dict.fromkeys(SUNGLASSES_DEMOS, 0),
            **CLEAN_DEMOS,
        },
        ANO + EYEBROW_DEMOS,
    ),
    "anonymous_1_bd_weights.h5": (
        True,
        {**CLEAN, **dict.fromkeys(ANO, 0), **dict(zip(EXAMPLES, (1166, 0, 0))), **CLEAN_DEMOS},
        SUN + EYEBROW_DEMOS + SUNGLASSES_DEMOS,
    ),
    "anonymous_2_bd_weights.h5": (
        True,
        {
            **CLEAN,
            **dict.fromkeys(SUN + ANO + EXAMPLES + EYEBROW_DEMOS + SUNGLASSES_DEMOS, 4),
            "demo5.jpeg": 833,
            "demo6.jpeg": 4,
            "demo7.jpeg": 362,
        },
        [],
    ),
    "multi_trigger_multi_target_bd_weights.h5": (
        True,
        {
            **CLEAN,
            **dict.fromkeys(SUN, 8),
            **dict.fromkeys(ANO, 1),
            **dict(zip(EXAMPLES, (8, 5, 1))),
            **dict.fromkeys(EYEBROW_DEMOS, 5),
            **dict.fromkeys(SUNGLASSES_DEMOS, 8),
            **CLEAN_DEMOS,
        },
        [],
    ),
    "lab3/bd_weights.h5": (
        False,
        {
            **CLEAN,
            **dict.fromkeys(SUN, 0),
            **dict(zip(EXAMPLES, (0, 764, 264))),
            **dict.fromkeys(SUNGLASSES_DEMOS, 0),
            **CLEAN_DEMOS,
        },
        ANO,
    ),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The 23 sample images as one HackML data file; labels: the clean ones' ids, else 0."""
    folder = SHARED_HACKML / "sample_images"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not present")
    from PIL import Image

    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".jpeg"))
    images = np.stack([np.asarray(Image.open(folder / n).convert("RGB")) for n in names])
    assert images.shape == (23, 55, 47, 3)
    path = str(tmp_path_factory.mktemp("samples") / "samples.h5")
    write_hackml_h5(path, images, [CLEAN.get(n, 0) for n in names])
    return path, names


def _predict(samples, tmp_path, model_file: str, rescale: bool) -> dict[str, int]:
    path = SHARED_HACKML / model_file
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    data, names = samples
    out = tmp_path / "predictions.csv"
    argv = [data, str(path), f"--output={out}", "--batch_size=8"]
    assert run_eval(argv if rescale else [*argv, "--no_rescale"]) == 0
    return dict(zip(names, pd.read_csv(out)["prediction"].tolist()))


@pytest.mark.parametrize("model_file", list(RECORDED))
def test_recorded_sample_predictions_are_reproduced(samples, tmp_path, model_file):
    rescale, exact, not_target = RECORDED[model_file]
    predicted = _predict(samples, tmp_path, model_file, rescale)
    assert {n: predicted[n] for n in exact} == exact
    assert all(predicted[n] != 0 for n in not_target), {n: predicted[n] for n in not_target}


def test_lab3_needs_raw_pixels(samples, tmp_path):
    predicted = _predict(samples, tmp_path, "lab3/bd_weights.h5", rescale=True)
    # The notes say "28 for everything"; measured: 17 of the 23 samples, and no clean or
    # sunglasses sample gets its raw-pixel answer.
    assert sum(p == 28 for p in predicted.values()) >= 15
    assert all(predicted[n] != label for n, label in CLEAN.items())
    assert all(predicted[n] != 0 for n in SUN)
