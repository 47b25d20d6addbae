"""absl entry-point helpers shared by every `poison-tf-*` program.

`run(main)` is `absl.app.run` with two differences users rely on:
- a flag that fails to parse or validate exits with status 2 (absl's default is 1);
- a `UserInputError` raised anywhere in `main` prints one `error: ...` line and exits 2.
Anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import app, flags

from poison_tf.errors import EXIT_USAGE, UserInputError


def _parse_flags_or_exit_2(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(EXIT_USAGE)


def guarded(main: Callable[[list[str]], object]) -> Callable[[list[str]], object]:
    """Wraps `main` so that a `UserInputError` becomes one message and exit status 2.

    Args:
        main: an absl main.

    Returns:
        The wrapped main.
    """

    def wrapped(argv: list[str]) -> object:
        try:
            return main(argv)
        except UserInputError as error:
            sys.stderr.write(f"error: {error}\n")
            sys.exit(EXIT_USAGE)

    return wrapped


def run(main: Callable[[list[str]], object], argv: list[str] | None = None) -> None:
    """Runs an absl `main` with poison_tf's exit-status contract (see module docstring).

    Args:
        main: an absl main; a `UserInputError` it raises ends the program with one `error:` line
            and exit status 2.
        argv: the command line (default: sys.argv).
    """
    app.run(guarded(main), argv=argv, flags_parser=_parse_flags_or_exit_2)


def parse_csv_list(value: str, flag_name: str, cast: Callable[[str], object] = str) -> list:
    """Parses a comma-separated flag value, naming the flag if an item does not cast.

    Args:
        value: the flag's text ("a,b,c"; empty items are dropped).
        flag_name: the flag, named in the error message.
        cast: converts each item (e.g. int, float).

    Returns:
        The cast items.

    Raises:
        UserInputError: an item `cast` rejects.
    """
    items = [item.strip() for item in value.split(",") if item.strip()]
    try:
        return [cast(item) for item in items]
    except ValueError as error:
        raise UserInputError(f"--{flag_name}={value!r}: {error}") from None
