"""Runs fuzz cases of one CLI in a child process: `python fuzz_child.py <spec.json>`.

Why a child: stage programs define their flags when they start (one stage per process), and a
case that hangs or crashes the interpreter (SIGSEGV in C code) must not take pytest with it.
For each case it prints `START <name>` before and `RESULT <json>` after, so the parent can tell
which case crashed or hung, restart a child for the remaining ones, and attribute results.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback

from absl import flags
from absl.testing import flagsaver

from poison_tf import cli
from poison_tf.errors import UserInputError


def program_main(program: str):
    """(name, main) of `program`: eval | seg_val | pipeline | stage:<stage>."""
    if program == "eval":
        from poison_tf import hackml_eval

        return "poison-tf-eval", hackml_eval.main
    if program == "seg_val":
        from poison_tf import seg_val

        return "poison-tf-seg-val", seg_val.main
    if program == "pipeline":
        from pipelines import main as pipeline_main

        return "poison-tf-pipeline", pipeline_main.main
    from poison_tf.components import stages
    from poison_tf.dag import stage_cli

    stage = program.split(":", 1)[1]
    components, aliases = stages.STAGES[stage], stages.ALIASES.get(stage)
    stage_cli.define_stage_flags(stage, components, aliases)

    def main(argv: list[str]) -> None:  # the body of stage_cli.run_program's main
        if len(argv) > 1:
            raise UserInputError(f"unexpected arguments {argv[1:]}")
        name = (aliases or {}).get(flags.FLAGS.component, flags.FLAGS.component)
        with contextlib.redirect_stdout(sys.stderr):
            outputs = stage_cli.run_stage(components[name], stages._prepare)
        print(json.dumps(outputs))

    return f"poison-tf-{stage}", main


def run_one(name: str, main, argv: list[str]) -> dict:
    """Runs one command line; returns status and the stderr it wrote (a traceback included)."""
    stderr = io.StringIO()
    status = 0
    with flagsaver.flagsaver(), contextlib.redirect_stderr(stderr):
        try:
            cli.run(main, argv=[name, *argv])
        except SystemExit as exit_:
            status = int(exit_.code or 0)
        except BaseException:  # noqa: BLE001 (what the user would see: a traceback, exit 1)
            traceback.print_exc(file=stderr)
            status = 1
        finally:
            flags.FLAGS.unparse_flags()
    return {"status": status, "stderr": stderr.getvalue()}


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    name, program = program_main(spec["program"])
    for case_name, argv in spec["cases"]:
        print(f"START {case_name}", flush=True)
        result = run_one(name, program, argv)
        print("RESULT " + json.dumps({"name": case_name, **result}), flush=True)


if __name__ == "__main__":
    main()
