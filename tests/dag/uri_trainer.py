"""A program that trains one `ray_components.TinyTrainer` under the local runner at a pipeline
root (a `file://` URI in the tests), in the staging dir `$POISON_TF_STAGING_DIR` names: one
process standing for one node, which the kill-and-resume tests SIGKILL mid-training.

argv: root marker epochs checkpoint_every_steps delay_per_step_s
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    root, marker = argv[1], argv[2]
    epochs, every, delay = int(argv[3]), int(argv[4]), float(argv[5])
    import ray_components as rc

    from poison_tf.dag import LocalDagRunner, Pipeline

    trainer = rc.TinyTrainer(
        "kill", epochs=epochs, delay=delay, checkpoint_every_steps=every, marker=marker
    )
    LocalDagRunner().run(Pipeline("kill", [trainer], root))


if __name__ == "__main__":
    main(sys.argv)
