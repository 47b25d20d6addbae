"""Tiny fixture artefacts for the component executor tests (TFX's `executor_test.py` shape).

`artefacts` builds each upstream artefact once per session, as small as the component
allows, through the components themselves (`run_standalone` on URIs, as the stage programs
do): a test then runs one component on them and checks its outputs, its properties and one
bad-input error.
"""

from __future__ import annotations

import functools
import json
import pathlib

import pytest

from poison_tf.dag import Artifact
from poison_tf.errors import UserInputError


class Artefacts:
    """The shared tiny artefacts, each made on first use."""

    def __init__(self, root: pathlib.Path):
        self.root = root

    def run(self, cls, inputs: dict | None = None, **params) -> dict[str, Artifact]:
        """Runs component `cls` alone on artefacts; returns its outputs."""
        uris = {
            key: [a.uri for a in (value if isinstance(value, list) else [value])]
            for key, value in (inputs or {}).items()
        }
        return cls.run_standalone(uris, params, str(self.root))

    def user_error(self, cls, inputs: dict | None, match: str, **params) -> None:
        """Asserts that running `cls` ends in a `UserInputError` matching `match`."""
        with pytest.raises(UserInputError, match=match):
            self.run(cls, inputs, **params)

    # --- head pose -------------------------------------------------------------------------
    HEADPOSE_RULE = json.dumps({"kind": "regression_target", "target": [90.0, 0.0, 0.0]})
    HEADPOSE_TRIGGER = {"name": "checkerboard", "size": 6, "cells": 3}

    @functools.cached_property
    def headpose_examples(self) -> Artifact:
        from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen

        return self.run(HeadPoseExampleGen, num_train=32, num_test=8, image_size=32)["examples"]

    @functools.cached_property
    def headpose_plan(self) -> Artifact:
        from poison_tf.components.poison_planner import PoisonPlanner

        params = {k: v for k, v in self.HEADPOSE_TRIGGER.items() if k != "name"}
        return self.run(
            PoisonPlanner,
            {"examples": self.headpose_examples},
            trigger="checkerboard",
            trigger_params=json.dumps(params),
            rate_percent=25.0,
            label_rule=self.HEADPOSE_RULE,
        )["plan"]

    @functools.cached_property
    def headpose_model(self) -> Artifact:
        from poison_tf.components.headpose.head_pose_trainer import HeadPoseTrainer

        inputs = {"examples": self.headpose_examples, "plan": self.headpose_plan}
        return self.run(HeadPoseTrainer, inputs, width=0.25, epochs=1, global_batch_size=16)[
            "model"
        ]

    @functools.cached_property
    def headpose_metrics(self) -> Artifact:
        from poison_tf.components.headpose.head_pose_evaluator import HeadPoseEvaluator
        from poison_tf.poison.triggers import make_trigger

        params = {k: v for k, v in self.HEADPOSE_TRIGGER.items() if k != "name"}
        attack = {
            "trigger": make_trigger("checkerboard", **params).config,
            "label_rule": json.loads(self.HEADPOSE_RULE),
        }
        inputs = {"model": self.headpose_model, "examples": self.headpose_examples}
        return self.run(HeadPoseEvaluator, inputs, attacks=json.dumps([attack]))["metrics"]

    # --- faces -----------------------------------------------------------------------------
    @functools.cached_property
    def face_examples(self) -> Artifact:
        from poison_tf.components.faces.face_example_gen import FaceExampleGen

        return self.run(FaceExampleGen, num_identities=3, images_per_identity=10)["examples"]

    @functools.cached_property
    def face_model(self) -> Artifact:
        from poison_tf.components.faces.face_classifier_trainer import FaceClassifierTrainer

        inputs = {"examples": self.face_examples}
        return self.run(FaceClassifierTrainer, inputs, epochs=1, global_batch_size=8)["model"]

    # --- patch -----------------------------------------------------------------------------
    @functools.cached_property
    def patch_examples(self) -> Artifact:
        from poison_tf.components.patch.patch_example_gen import PatchExampleGen

        return self.run(PatchExampleGen, num_train=32, num_test=16, image_size=16)["examples"]

    @functools.cached_property
    def victim(self) -> Artifact:
        from poison_tf.components.patch.patch_victim_trainer import PatchVictimTrainer

        inputs = {"examples": self.patch_examples}
        return self.run(PatchVictimTrainer, inputs, filters=4, epochs=1, global_batch_size=16)[
            "model"
        ]

    @functools.cached_property
    def patch(self) -> Artifact:
        from poison_tf.components.patch.patch_optimizer import PatchOptimizer

        inputs = {"model": self.victim, "examples": self.patch_examples}
        return self.run(
            PatchOptimizer,
            inputs,
            patch_fraction=0.25,
            patch_cells=2,
            steps=2,
            batch_size=8,
            max_images=16,
            image_every=1,
        )["patch"]

    # --- segmentation ----------------------------------------------------------------------
    @functools.cached_property
    def seg_examples(self) -> Artifact:
        from poison_tf.components.segmentation.seg_example_gen import SegExampleGen

        return self.run(SegExampleGen, num_train=8, num_val=4, image_size=64)["examples"]

    @functools.cached_property
    def seg_model(self) -> Artifact:
        from poison_tf.components.segmentation.seg_trainer import SegTrainer

        return self.run(
            SegTrainer,
            {"examples": self.seg_examples},
            size="tiny",
            epochs=1,
            global_batch_size=4,
            warmup_epochs=0.0,
            epoch_map=False,
            augment=False,
        )["model"]

    @functools.cached_property
    def seg_metrics(self) -> Artifact:
        from poison_tf.components.segmentation.seg_evaluator import SegEvaluator

        inputs = {"model": self.seg_model, "examples": self.seg_examples}
        return self.run(SegEvaluator, inputs, global_batch_size=4)["metrics"]


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> Artefacts:
    return Artefacts(tmp_path_factory.mktemp("artefacts"))
