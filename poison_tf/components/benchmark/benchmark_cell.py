"""BenchmarkCell: examples artefact → the metrics of one (attack, rate) cell of the benchmark.

Trains the PreAct-ResNet18 victim on the plan-poisoned training split, runs every chosen
defence on it (`run.run_cell`) and writes `metrics.json` (one row per defence: C-Acc, ASR, RA,
DER, RIR, filter precision/recall, NC's detection, seconds), the poison `plan.json` and NC's
recovered trigger as a PNG. One component per cell, so the runner caches and (on Ray)
parallelises cells independently.
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from poison_tf import types
from poison_tf.components.benchmark.run import check_defences, run_cell
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import image_examples_dataset
from poison_tf.poison.benchmark_attacks import check_attack
from poison_tf.poison.selection import check_rate_percent


def load_split(examples_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 [N, H, W, 3], labels int64 [N]) of a split, in id order.

    Args:
        examples_dir: an `Examples` artefact of image classification.
        split: "train" or "test".

    Returns:
        The split's arrays.
    """
    batches = list(image_examples_dataset(examples_dir, split).batch(1024).as_numpy_iterator())
    images = np.concatenate([b["image"] for b in batches]).astype(np.float32)
    labels = np.concatenate([b["label"] for b in batches]).reshape(-1).astype(np.int64)
    ids = np.concatenate([b["id"] for b in batches])
    order = np.argsort(ids)
    return images[order], labels[order]


class BenchmarkCellSpec(ComponentSpec):
    INPUTS = {"examples": types.Examples.channel()}
    OUTPUTS = {
        "metrics": types.Metrics.channel(
            help="metrics.json with one row per defence, the poison plan.json and NC's "
            "recovered trigger as a PNG"
        )
    }
    PARAMETERS = {
        "attack": ExecutionParameter(str, help="badnet | blended | wanet | sig"),
        "rate_percent": ExecutionParameter(float, help="poisoned share of the training split"),
        "defences": ExecutionParameter(
            str, default="spectral,ac,nc,abl", help="comma list of spectral | ac | nc | abl"
        ),
        "train": ExecutionParameter(str, default="{}", help="JSON: defences.training.train kw"),
        "defence_params": ExecutionParameter(str, default="{}", help="JSON: per defence kw"),
        "target": ExecutionParameter(int, default=0, help="target class of every attack"),
        "width": ExecutionParameter(int, default=64, help="PreAct-ResNet18 width"),
        "clean_ratio": ExecutionParameter(float, default=0.05, help="defender's clean share"),
        "seed": ExecutionParameter(int, default=0, help="seed of the plan, training and defences"),
    }


class BenchmarkCellExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        attack = check_attack(p["attack"])
        rate = check_rate_percent(p["rate_percent"], "--rates")
        defences = check_defences([d for d in p["defences"].split(",") if d])
        examples = input_dict["examples"][0].uri
        result = run_cell(
            load_split(examples, "train"),
            load_split(examples, "test"),
            attack,
            rate,
            defences,
            train=json.loads(p["train"]),
            defence_params=json.loads(p["defence_params"]),
            target=p["target"],
            width=p["width"],
            clean_ratio=p["clean_ratio"],
            seed=p["seed"],
        )
        out = output_dict["metrics"][0]
        result.pop("plan").save(out.path("plan.json"))
        for name, image in result.pop("images").items():
            Image.fromarray(image).resize((128, 128), Image.NEAREST).save(out.path(name))
        types.Metrics.write(out, result)
        out.properties.update({"attack": attack, "rate_percent": p["rate_percent"]})


class BenchmarkCell(BaseComponent):
    """Examples artefact → the metrics of one (attack, rate) cell of the backdoor benchmark.

    Trains the PreAct-ResNet18 victim on the plan-poisoned training split and runs every chosen
    defence on it; one component per cell, so the runner caches and (on Ray) parallelises cells
    independently.
    """

    SPEC_CLASS = BenchmarkCellSpec
    EXECUTOR_CLASS = BenchmarkCellExecutor
