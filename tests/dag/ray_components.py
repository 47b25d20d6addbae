"""Small test components for the DAG runner tests, importable by Ray worker processes.

Ray workers import this module by name, so the tests put tests/dag (and tests/train, for the
tiny task) on PYTHONPATH before Ray starts. Each executor appends a line to a marker file given
as a parameter, which is how a test sees, across processes, what actually executed.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from poison_tf.dag import (
    BaseComponent,
    BaseExecutor,
    ChannelParameter,
    ComponentSpec,
    ExecutionParameter,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))


def mark(path: str, text: str) -> None:
    """Appends one line to the marker file `path` (no-op when empty)."""
    if path:
        with open(path, "a") as handle:
            handle.write(f"{text} {os.getpid()}\n")


class NumberSpec(ComponentSpec):
    OUTPUTS = {"number": ChannelParameter("Number")}
    PARAMETERS = {
        "value": ExecutionParameter(int),
        "crash": ExecutionParameter(bool, default=False),
        "marker": ExecutionParameter(str, default=""),
    }


class NumberExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        mark(exec_properties["marker"], f"number{exec_properties['value']}")
        with open(output_dict["number"][0].path("value.txt"), "w") as f:
            f.write(str(exec_properties["value"]))
        if exec_properties["crash"]:  # after writing: a runner must not keep the half output
            raise RuntimeError(f"boom {exec_properties['value']}")


class Number(BaseComponent):
    SPEC_CLASS = NumberSpec
    EXECUTOR_CLASS = NumberExecutor


class SumSpec(ComponentSpec):
    INPUTS = {"numbers": ChannelParameter("Number")}
    OUTPUTS = {"total": ChannelParameter("Number")}
    PARAMETERS = {
        "marker": ExecutionParameter(str, default=""),
        "path": ExecutionParameter(str, default="", is_path=True),  # only fingerprinted
    }


class SumExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        mark(exec_properties["marker"], "sum")
        total = sum(int(open(a.path("value.txt")).read()) for a in input_dict["numbers"])
        with open(output_dict["total"][0].path("value.txt"), "w") as f:
            f.write(str(total))


class Sum(BaseComponent):
    SPEC_CLASS = SumSpec
    EXECUTOR_CLASS = SumExecutor


class TinyTrainerSpec(ComponentSpec):
    """A trainer (it takes a `strategy`, so the Ray runner gives it the heavy share)."""

    OUTPUTS = {"model": ChannelParameter("Model")}
    PARAMETERS = {
        "seed": ExecutionParameter(int, default=17),
        "epochs": ExecutionParameter(int, default=2),
        "delay": ExecutionParameter(float, default=0.0),
        "checkpoint_every_steps": ExecutionParameter(int, default=0),
        "strategy": ExecutionParameter(str, default="default"),
        "marker": ExecutionParameter(str, default=""),
    }


class TinyTrainerExecutor(BaseExecutor):
    """Trains tests/train's tiny MLP task deterministically; saves its weights as weights.npz.

    The marker line holds the checkpoint it started from and that checkpoint's epoch, so a test
    sees a retry resume; it tells the runner of every checkpoint (`work_saved`), so a URI root
    keeps a copy another node resumes from."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        import tensorflow as tf
        from tiny_task import TinyRegressionTask

        from poison_tf.train.loop import TrainerConfig, fit

        work = self.work_dir
        latest = tf.train.latest_checkpoint(os.path.join(work, "checkpoints"))
        threads = os.environ.get("TF_NUM_INTRAOP_THREADS")  # read by TF when its runtime starts
        epoch = tf.train.load_variable(latest, "epoch/.ATTRIBUTES/VARIABLE_VALUE") if latest else 0
        mark(exec_properties["marker"], f"start {latest} threads={threads} epoch={epoch}")
        task = TinyRegressionTask(seed=exec_properties["seed"])
        delay = exec_properties["delay"]
        if delay:
            original = task.train_step

            def slow_step(inputs, model, optimizer):
                tf.py_function(lambda: time.sleep(delay), [], [])
                return original(inputs, model, optimizer)

            task.train_step = slow_step
        model = fit(
            task,
            TrainerConfig(
                model_dir=work,
                epochs=exec_properties["epochs"],
                strategy=exec_properties["strategy"],
                seed=exec_properties["seed"],
                checkpoint_every_steps=exec_properties["checkpoint_every_steps"],
                deterministic=True,
                progress=False,
                validate=False,
                on_checkpoint=self.work_saved,
            ),
        )
        np.savez(output_dict["model"][0].path("weights.npz"), *model.get_weights())


class TinyTrainer(BaseComponent):
    SPEC_CLASS = TinyTrainerSpec
    EXECUTOR_CLASS = TinyTrainerExecutor


def weights(artifact) -> list[np.ndarray]:
    with np.load(artifact.path("weights.npz")) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
