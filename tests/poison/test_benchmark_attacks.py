"""WaNet, SIG and the BackdoorBench attack plans: properties of each transform, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.poison import benchmark_attacks, sig, wanet
from poison_tf.poison.label_rules import all_to_one
from poison_tf.poison.plan import PoisonPlan
from poison_tf.poison.triggers import make_trigger, trigger_from_config

SIZE = 32


def _ramps(size: int) -> np.ndarray:
    """[size, size, 3]: channel 0 = column index / (size-1), channel 1 = row index / (size-1)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    return np.stack([xs, ys, np.zeros_like(xs)], -1)


def _sample_positions(trigger: wanet.WarpTrigger) -> np.ndarray:
    """Where each output pixel samples from, in pixels: bilinear sampling of a ramp is exact."""
    warped = trigger.apply(_ramps(trigger.size)).numpy()
    return warped[..., :2] * (trigger.size - 1)  # [H, W, (x, y)]


def test_warp_is_a_smooth_bijection_with_the_set_strength():
    weak, strong = wanet.wanet(SIZE, s=0.5, seed=3), wanet.wanet(SIZE, s=1.0, seed=3)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    moves = []
    for trigger in (weak, strong):
        pos = _sample_positions(trigger)
        # bijection: sample x strictly increases along every row, y along every column
        assert np.all(np.diff(pos[..., 0], axis=1) > 0)
        assert np.all(np.diff(pos[..., 1], axis=0) > 0)
        move = pos - np.stack([xs, ys], -1)
        interior = move[2:-2, 2:-2]
        # strength: displacement = s * noise / H in [-1, 1] units = s * noise * (H-1) / (2H) px
        expected = trigger.s * trigger.noise_grid * (SIZE - 1) / (2 * SIZE)
        np.testing.assert_allclose(interior, expected[2:-2, 2:-2], atol=1e-4)
        # smooth: neighbouring displacements differ far less than the displacement itself
        assert np.abs(np.diff(interior, axis=0)).max() < 0.25 * np.abs(interior).max()
        assert np.abs(np.diff(interior, axis=1)).max() < 0.25 * np.abs(interior).max()
        moves.append(np.abs(interior).max())
    assert 0.1 < moves[0] < 1.0  # BackdoorBench's s=0.5 on 32 px: under one pixel
    assert moves[1] == pytest.approx(2 * moves[0], rel=1e-3)


def test_noise_field_matches_torch_bicubic_align_corners():
    torch = pytest.importorskip("torch")
    field = np.random.default_rng(0).uniform(-1, 1, (4, 4, 2))
    ours = wanet.upsample_bicubic_align_corners(field, SIZE)
    theirs = torch.nn.functional.interpolate(
        torch.tensor(field).permute(2, 0, 1)[None], size=SIZE, mode="bicubic", align_corners=True
    )[0].permute(1, 2, 0)
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-6)


def test_warp_matches_torch_grid_sample():
    torch = pytest.importorskip("torch")
    trigger = wanet.wanet(SIZE, seed=1)
    images = np.random.default_rng(1).random((2, SIZE, SIZE, 3)).astype(np.float32)
    theirs = torch.nn.functional.grid_sample(
        torch.tensor(images).permute(0, 3, 1, 2),
        torch.tensor(trigger.grid)[None].repeat(2, 1, 1, 1),
        align_corners=True,
    ).permute(0, 2, 3, 1)
    np.testing.assert_allclose(trigger.apply(images).numpy(), theirs.numpy(), atol=1e-5)


def test_noise_mode_is_per_id_and_repeatable():
    trigger = wanet.wanet(SIZE, seed=0)
    image = np.random.default_rng(2).random((SIZE, SIZE, 3)).astype(np.float32)
    batch = np.stack([image, image])
    a = trigger.apply_noise(batch, tf.constant([5, 6])).numpy()
    b = trigger.apply_noise(image, tf.constant(5)).numpy()
    np.testing.assert_allclose(a[0], b, atol=1e-6)
    assert np.abs(a[0] - a[1]).max() > 1e-3
    assert np.abs(a[0] - trigger.apply(image).numpy()).max() > 1e-3


def test_fast_warp_equals_the_reference_path():
    """The sparse-product warp, the uint32 noise hash and the XLA-compiled noise warp give the
    reference's numbers (XLA may reorder a sum: float32 round-off, 1e-7)."""
    trigger = wanet.wanet(SIZE, seed=7)
    rng = np.random.default_rng(3)
    # batches of 1 to 40 rows (the sparse kernel's scalar and vectorised paths), 1 to 4 channels
    shapes = [(5, SIZE, SIZE, 3), (SIZE, SIZE, 3), (40, SIZE, SIZE, 3), (3, SIZE, SIZE, 1)]
    for images in (rng.random(shape) for shape in [*shapes, (2, SIZE, SIZE, 4)]):
        images = images.astype(np.float32)
        np.testing.assert_allclose(
            trigger.apply(images).numpy(), trigger.apply_reference(images).numpy(), atol=1e-6
        )
    ids = tf.constant([0, 1, 41, 2**31 - 1, 123456789], tf.int64)
    fast = wanet.hash_uniform_fast(ids, trigger._offsets).numpy()
    np.testing.assert_array_equal(fast, wanet.hash_uniform(ids, SIZE * SIZE * 2, 7).numpy())
    images = rng.random((5, SIZE, SIZE, 3)).astype(np.float32)  # padded to 8 rows for XLA
    np.testing.assert_allclose(
        trigger.apply_noise(images, ids).numpy(),
        trigger.apply_noise(images, ids, reference=True).numpy(),
        atol=1e-6,
    )
    assert trigger.apply_noise(images[:0], ids[:0]).shape == (0, SIZE, SIZE, 3)
    graph = tf.function(trigger.apply)  # inside tf.data the batch size is unknown
    spec = tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32)
    warped = graph.get_concrete_function(spec)(tf.constant(images)).numpy()
    np.testing.assert_allclose(warped, trigger.apply_reference(images).numpy(), atol=1e-6)


def test_sinusoid_has_the_set_frequency_and_amplitude():
    trigger = sig.sig(delta=20, frequency=6)
    grey = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    added = trigger.apply(grey).numpy() - grey
    assert np.allclose(added, added[:1, :, :1])  # same on every row and channel
    spectrum = np.abs(np.fft.rfft(added[0, :, 0])) * 2 / SIZE
    assert int(np.argmax(spectrum)) == 6
    assert spectrum[6] == pytest.approx(20 / 255, rel=1e-3)
    others = np.delete(spectrum, 6)
    assert others.max() < 1e-5
    assert trigger.apply(np.ones((SIZE, SIZE, 3), np.float32)).numpy().max() <= 1.0


def test_triggers_round_trip_through_their_config():
    for trigger in (wanet.wanet(SIZE, s=0.7, seed=4), sig.sig(30, 4)):
        rebuilt = trigger_from_config(trigger.config)
        image = np.random.default_rng(0).random((SIZE, SIZE, 3)).astype(np.float32)
        np.testing.assert_allclose(rebuilt.apply(image), trigger.apply(image), atol=1e-6)


def _run_plan(plan: PoisonPlan, images: np.ndarray, labels: np.ndarray, batch: int = 16):
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels, "id": np.arange(len(labels))}
    ).batch(batch)
    out = list(ds.map(plan.map_fn()).unbatch().as_numpy_iterator())
    return (
        np.stack([e["image"] for e in out]),
        np.array([e["label"] for e in out]),
        np.array([e["poisoned"] for e in out]),
    )


def test_sig_is_clean_label_and_stamps_only_the_target_class():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 4
    images = rng.random((200, SIZE, SIZE, 3)).astype(np.float32) * 0.5 + 0.25
    plan = benchmark_attacks.attack_plan("sig", labels, rate=0.1, target=2, image_size=SIZE)
    assert plan.count == 20 and np.all(labels[plan.poisoned_ids] == 2)
    out_images, out_labels, poisoned = _run_plan(plan, images, labels)
    assert np.array_equal(out_labels, labels)  # clean-label: every label kept
    changed = np.abs(out_images - images).max(axis=(1, 2, 3)) > 1e-6
    assert np.array_equal(changed, poisoned) and poisoned.sum() == 20


def test_wanet_plan_relabels_poisoned_and_keeps_cross_labels():
    labels = np.arange(300) % 5
    images = np.random.default_rng(1).random((300, SIZE, SIZE, 3)).astype(np.float32)
    plan = benchmark_attacks.attack_plan("wanet", labels, rate=0.1, image_size=SIZE)
    assert plan.count == 30 and len(plan.noise_ids) == 60
    assert not set(plan.noise_ids) & set(plan.poisoned_ids)
    out_images, out_labels, poisoned = _run_plan(plan, images, labels)
    assert np.all(out_labels[plan.poisoned_ids] == 0)
    assert np.array_equal(out_labels[plan.noise_ids], labels[plan.noise_ids])
    changed = np.abs(out_images - images).max(axis=(1, 2, 3)) > 1e-6
    assert np.array_equal(np.flatnonzero(changed), np.union1d(plan.poisoned_ids, plan.noise_ids))
    assert np.array_equal(np.flatnonzero(poisoned), plan.poisoned_ids)


def test_wanet_batch_fn_warps_each_row_as_its_role_says():
    """The trainers' path (both kinds of WaNet rows in one compiled call, `warp_rows`) against the
    per-kind references: fixed rows as `apply_reference`, noise rows as the uncompiled noise warp
    (within 1e-6, the fast paths' tolerance); every other row and every label bit for bit."""
    labels = np.arange(300) % 5
    rng = np.random.default_rng(4)
    plan = benchmark_attacks.attack_plan("wanet", labels, rate=0.1, image_size=SIZE)
    order = rng.permutation(300)
    ids = np.concatenate([order, [-1, 10**6]])  # unknown ids are left alone
    images = rng.random((len(ids), SIZE, SIZE, 3)).astype(np.float32)
    role = np.concatenate([plan.role_mask()[order], [0, 0]])
    assert (role == 1).sum() == 30 and (role == 2).sum() == 60
    trigger = plan.trigger
    for batch in (128, 7, 302):
        out_x, out_y = [], []
        for start in range(0, len(ids), batch):
            part = slice(start, start + batch)
            example = {"image": images[part], "label": labels[ids[part] % 300], "id": ids[part]}
            example = plan.batch_fn()({k: tf.constant(v) for k, v in example.items()})
            out_x.append(example["image"].numpy())
            out_y.append(example["label"].numpy())
        out_x, out_y = np.concatenate(out_x), np.concatenate(out_y)
        untouched = role == 0
        np.testing.assert_array_equal(
            out_x[untouched].view(np.uint32), images[untouched].view(np.uint32)
        )
        fixed = trigger.apply_reference(images[role == 1]).numpy()
        np.testing.assert_allclose(out_x[role == 1], fixed, atol=1e-6)
        noisy = trigger.apply_noise(images[role == 2], ids[role == 2], reference=True).numpy()
        np.testing.assert_allclose(out_x[role == 2], noisy, atol=1e-6)
        assert np.abs(out_x[role > 0] - images[role > 0]).max(axis=(1, 2, 3)).min() > 1e-3
        assert np.all(out_y[role == 1] == 0)
        np.testing.assert_array_equal(out_y[role != 1], labels[ids[role != 1] % 300])
    empty = {"image": images[:0], "label": labels[:0], "id": ids[:0]}
    assert plan.batch_fn()(empty)["image"].shape == (0, SIZE, SIZE, 3)


def test_plan_with_noise_ids_overlapping_poisoned_ids_is_a_user_error():
    trigger = wanet.wanet(SIZE)
    with pytest.raises(UserInputError, match="both poisoned and noise-mode"):
        PoisonPlan(trigger, all_to_one(0), np.array([1, 4]), 10, 0.2, 0, noise_ids=np.array([4, 5]))


def test_plan_with_noise_ids_round_trips(tmp_path):
    plan = benchmark_attacks.attack_plan("wanet", np.arange(100) % 2, 0.1, image_size=SIZE)
    plan.save(str(tmp_path / "plan.json"))
    loaded = PoisonPlan.load(str(tmp_path / "plan.json"))
    assert np.array_equal(loaded.noise_ids, plan.noise_ids)
    assert loaded.label_rule == plan.label_rule and loaded.trigger.config == plan.trigger.config


def test_badnet_and_blended_follow_backdoorbench():
    badnet = benchmark_attacks.attack_trigger("badnet", SIZE)
    stamped = badnet.apply(np.zeros((SIZE, SIZE, 3), np.float32)).numpy()
    assert stamped[-3:, -3:].min() == 1.0 and stamped.sum() == 27
    assert benchmark_attacks.attack_trigger("blended", SIZE).config["alpha"] == 0.2


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: make_trigger("wanet", s=0.0), "strength"),
        (lambda: make_trigger("wanet", s=-1.0), "strength"),
        (lambda: make_trigger("sig", frequency=0), "frequency"),
        (lambda: make_trigger("sig", frequency=-2), "frequency"),
        (lambda: benchmark_attacks.check_attack("trojan"), "unknown attack"),
        (
            lambda: benchmark_attacks.attack_plan("sig", np.ones(50, int), 0.1, target=0),
            "no image of target class 0",
        ),
        (lambda: benchmark_attacks.attack_plan("badnet", np.zeros(50, int), 1.5), "rate"),
        (lambda: wanet.wanet(32).check_fits(28, 28), "32x32"),
    ],
)
def test_bad_attack_parameters_are_user_errors(call, match):
    with pytest.raises(UserInputError, match=match):
        call()
