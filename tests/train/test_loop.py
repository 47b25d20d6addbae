"""The custom loop: learns, checkpoints, resumes exactly, runs under Mirrored on 2 CPUs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from parallel_checks import check_shards, check_weights
from tiny_task import TinyRegressionTask, record_steps

from poison_tf.errors import UserInputError
from poison_tf.train import loop as loop_module
from poison_tf.train.loop import TrainerConfig, fit
from poison_tf.train.strategy import resolve_strategy


def _mae(model, task):
    return float(np.mean(np.abs(model.predict(task.x, verbose=0) - task.y)))


def test_loop_learns_and_writes_history_and_tensorboard(tmp_path):
    task = TinyRegressionTask()
    model = fit(
        task, TrainerConfig(model_dir=str(tmp_path), epochs=6, progress=False, log_every_steps=4)
    )
    assert _mae(model, task) < 0.5 * float(np.mean(np.abs(task.y)))
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, 7))
    assert history[-1]["loss"] < history[0]["loss"]
    assert "val_loss" in history[-1]
    assert any(
        name.startswith("events.out") for name in os.listdir(tmp_path / "tensorboard" / "train")
    )


@pytest.mark.parametrize("num_examples", [250, 256])
def test_each_step_function_is_traced_once_even_with_a_short_last_batch(
    tmp_path, monkeypatch, num_examples
):
    loops = []
    train = loop_module._train
    monkeypatch.setattr(
        loop_module, "_train", lambda loop, config: loops.append(loop) or train(loop, config)
    )
    fit(
        TinyRegressionTask(num_examples=num_examples),  # batch 16: 250 leaves a batch of 10
        TrainerConfig(model_dir=str(tmp_path), epochs=2, progress=False),
    )
    assert loops[0].train_fn.experimental_get_tracing_count() == 1
    assert loops[0].val_fn.experimental_get_tracing_count() == 1


def test_resume_continues_from_checkpoint(tmp_path):
    task = TinyRegressionTask()
    fit(
        task,
        TrainerConfig(model_dir=str(tmp_path / "a"), epochs=2, progress=False, deterministic=True),
    )
    resumed = fit(
        task,
        TrainerConfig(model_dir=str(tmp_path / "a"), epochs=4, progress=False, deterministic=True),
    )
    straight = fit(
        task,
        TrainerConfig(model_dir=str(tmp_path / "b"), epochs=4, progress=False, deterministic=True),
    )
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert len(json.loads((tmp_path / "a" / "history.json").read_text())) == 4


def test_mirrored_on_two_logical_cpus(tmp_path, two_cpu_strategy):
    strategy = two_cpu_strategy
    assert strategy.num_replicas_in_sync == 2
    task = TinyRegressionTask()
    model = fit(
        task, TrainerConfig(model_dir=str(tmp_path), epochs=6, progress=False), strategy=strategy
    )
    assert _mae(model, task) < 0.5 * float(np.mean(np.abs(task.y)))


def test_mixed_precision_trains(tmp_path):
    task = TinyRegressionTask()
    model = fit(
        task, TrainerConfig(model_dir=str(tmp_path), epochs=3, mixed_precision=True, progress=False)
    )
    assert np.isfinite(_mae(model, task))
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards


def test_unknown_strategy_is_a_user_error():
    with pytest.raises(UserInputError, match="--strategy='gpu'"):
        resolve_strategy("gpu")


def test_jit_compiled_steps_learn_like_the_plain_ones(tmp_path):
    task = TinyRegressionTask()
    model = fit(
        task, TrainerConfig(model_dir=str(tmp_path), epochs=6, jit_compile=True, progress=False)
    )
    assert _mae(model, task) < 0.5 * float(np.mean(np.abs(task.y)))


def test_mirrored_replicas_train_one_model_on_halves_of_the_global_batch(
    tmp_path, two_cpu_strategy
):
    """Fails unless the 2 replicas split every global batch and all-reduce their gradients."""
    epochs = 2
    task = TinyRegressionTask()
    records = record_steps(task)
    config = TrainerConfig(
        model_dir=str(tmp_path / "mirrored"),
        epochs=epochs,
        deterministic=True,
        progress=False,
        validate=False,
    )
    model = fit(task, config, strategy=two_cpu_strategy)
    assert two_cpu_strategy.num_replicas_in_sync == 2
    check_shards(task, records, replicas=2, epochs=epochs)
    measured = check_weights(model.get_weights(), tmp_path / "ref", epochs)
    print(f"max |weight difference|: {measured}")
