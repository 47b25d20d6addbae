"""Running one of the project's absl programs in the test process, with the CLI's exit contract."""

from __future__ import annotations

from collections.abc import Callable

from absl import flags
from absl.testing import flagsaver

from poison_tf import cli


def run_program(main: Callable[[list[str]], None], name: str, argv: list[str]) -> int:
    """Runs `name *argv` through `cli.run(main)`; returns the exit status (flags restored after)."""
    with flagsaver.flagsaver():
        try:
            cli.run(main, argv=[name, *argv])
        except SystemExit as exit_:
            return int(exit_.code or 0)
        finally:
            flags.FLAGS.unparse_flags()
    return 0
