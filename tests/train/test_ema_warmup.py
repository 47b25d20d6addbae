"""Weight EMA (Ultralytics ModelEMA) and the warm-up + decay schedule, alone and in the loop."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from tiny_task import TinyRegressionTask

from poison_tf.errors import UserInputError
from poison_tf.train.ema import ModelEMA, ema_decay
from poison_tf.train.loop import TrainerConfig, fit
from poison_tf.train.schedules import WarmupDecay, warmup_steps_for


def test_ema_decay_ramps_like_ultralytics():
    for updates in (1, 10, 2000, 50_000):
        expected = 0.9999 * (1 - math.exp(-updates / 2000))
        assert float(ema_decay(updates)) == pytest.approx(expected, rel=1e-6)


def test_ema_update_is_the_weighted_average_of_every_float_weight():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()]
    )
    ema = ModelEMA(model, decay=0.9, tau=3.0)
    assert len(ema.averages) == len(model.weights)  # BatchNorm moving statistics included
    rng = np.random.default_rng(0)
    expected = [w.numpy().copy() for w in model.weights]
    for step in range(1, 5):
        new = [rng.normal(size=w.shape).astype(np.float32) for w in model.weights]
        model.set_weights(new)
        d = 0.9 * (1 - math.exp(-step / 3.0))
        assert float(ema.update()) == pytest.approx(d, rel=1e-6)
        expected = [d * e + (1 - d) * n for e, n in zip(expected, new)]
    for average, value in zip(ema.averages, expected):
        np.testing.assert_allclose(average.numpy(), value, rtol=1e-5, atol=1e-6)
    raw = model.get_weights()
    with ema.applied():
        for w, value in zip(model.get_weights(), expected):
            np.testing.assert_allclose(w, value, rtol=1e-5, atol=1e-6)
    for w, value in zip(model.get_weights(), raw):
        np.testing.assert_array_equal(w, value)  # raw weights restored after the block


def test_warmup_then_decay_values():
    schedule = WarmupDecay(
        peak=0.1, total_steps=1000, warmup_steps=100, decay="linear", final_fraction=0.01
    )
    assert float(schedule(0)) == 0.0
    assert float(schedule(50)) == pytest.approx(0.05)
    assert float(schedule(100)) == pytest.approx(0.1)
    assert float(schedule(550)) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5))
    assert float(schedule(1000)) == pytest.approx(0.001)
    assert float(schedule(5000)) == pytest.approx(0.001)  # held at the floor
    steps = np.arange(0, 1200, 7)
    values = np.array([float(schedule(s)) for s in steps])
    assert np.all(np.diff(values[steps <= 100]) > 0) and np.all(
        np.diff(values[steps >= 100]) <= 1e-9
    )
    assert warmup_steps_for(10) == 100 and warmup_steps_for(200) == 600


def test_cosine_branch_equals_keras_cosine_decay_with_warmup():
    ours = WarmupDecay(
        peak=2e-3, total_steps=500, warmup_steps=60, decay="cosine", final_fraction=0.05
    )
    reference = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=440, alpha=0.05, warmup_target=2e-3, warmup_steps=60
    )
    for step in range(0, 520, 13):
        assert float(ours(step)) == pytest.approx(float(reference(step)), rel=1e-5, abs=1e-9)
    restored = WarmupDecay.from_config(ours.get_config())
    assert float(restored(300)) == float(ours(300))
    with pytest.raises(UserInputError, match="'step'"):
        WarmupDecay(1.0, 10, decay="step")


class EmaTask(TinyRegressionTask):
    ema_decay = 0.9
    ema_tau = 5.0


def _mae(model, task):
    return float(np.mean(np.abs(model.predict(task.x, verbose=0) - task.y)))


def test_loop_validates_and_returns_the_ema_weights_and_resumes_them_exactly(tmp_path):
    task = EmaTask()
    config = dict(progress=False, deterministic=True)
    fit(task, TrainerConfig(model_dir=str(tmp_path / "a"), epochs=2, **config))
    resumed = fit(task, TrainerConfig(model_dir=str(tmp_path / "a"), epochs=4, **config))
    straight = fit(task, TrainerConfig(model_dir=str(tmp_path / "b"), epochs=4, **config))
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history[-1]["val_loss"] == pytest.approx(_mae(straight, task), rel=1e-4)
    plain = fit(
        TinyRegressionTask(), TrainerConfig(model_dir=str(tmp_path / "c"), epochs=4, **config)
    )
    assert _mae(plain, task) != pytest.approx(_mae(straight, task), rel=1e-3)  # EMA ≠ raw weights
    assert _mae(straight, task) < 0.5 * float(np.mean(np.abs(task.y)))


def test_ema_under_mirrored_strategy_learns(tmp_path, two_cpu_strategy):
    task = EmaTask()
    model = fit(
        task,
        TrainerConfig(model_dir=str(tmp_path), epochs=5, progress=False),
        strategy=two_cpu_strategy,
    )
    assert _mae(model, task) < 0.5 * float(np.mean(np.abs(task.y)))
