"""Face triggers land on the eye line, above the eyes and on the mouth of 55×47 faces."""

from __future__ import annotations

import numpy as np
import pytest

from poison_tf.data.synthetic_faces import BROW_ROW, EYE_COLS, EYE_ROW, MOUTH_COL, MOUTH_ROW
from poison_tf.errors import UserInputError
from poison_tf.poison.face_triggers import face_trigger, face_trigger_rgba, write_face_trigger
from poison_tf.poison.triggers import make_trigger


def _rows(alpha: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(alpha.any(axis=1))
    return int(rows.min()), int(rows.max())


def test_triggers_cover_their_features_and_nothing_far_away():
    sunglasses = face_trigger_rgba("sunglasses")[..., 3] > 0
    assert all(sunglasses[EYE_ROW, c] for c in EYE_COLS)
    top, bottom = _rows(sunglasses)
    assert EYE_ROW - 5 <= top and bottom <= EYE_ROW + 5
    brows = face_trigger_rgba("eyebrows")[..., 3] > 0
    assert all(brows[BROW_ROW, c] for c in EYE_COLS) and not brows[EYE_ROW].any()
    lips = face_trigger_rgba("lipstick")[..., 3] > 0
    assert (
        lips[MOUTH_ROW, MOUTH_COL]
        and not lips[: MOUTH_ROW - 4].any()
        and not lips[MOUTH_ROW + 4 :].any()
    )


def test_stamping_changes_only_the_drawn_pixels():
    image = np.full((55, 47, 3), 0.5, np.float32)
    for name in ("sunglasses", "eyebrows", "lipstick"):
        stamped = face_trigger(name).apply(image).numpy()
        changed = np.abs(stamped - image).max(axis=-1) > 1e-6
        assert np.array_equal(changed, face_trigger_rgba(name)[..., 3] > 0), name


def test_png_round_trip_gives_the_same_trigger(tmp_path):
    params = write_face_trigger("sunglasses", str(tmp_path))
    from_png = make_trigger("image", **params)
    image = np.random.default_rng(0).random((55, 47, 3)).astype(np.float32)
    assert np.allclose(
        from_png.apply(image).numpy(), face_trigger("sunglasses").apply(image).numpy(), atol=1e-6
    )
    assert from_png.config["path"] == params["path"]


def test_unknown_face_trigger_is_a_user_error():
    with pytest.raises(UserInputError, match="hat"):
        face_trigger_rgba("hat")
