"""The one exception type for mistakes a user can fix.

Every problem a user can cause (a missing file, a corrupt image, a bad flag value, an unknown
class name) is raised as `UserInputError` with a message that names the file, row or flag.
The CLI wrapper in `poison_tf.cli` turns it into one line on stderr and exit status 2, so users
and schedulers can tell "your input is wrong" (2) from "the program crashed" (1).
"""

EXIT_USAGE = 2


class UserInputError(Exception):
    """A problem with the user's input; the message names the file/flag and what is wrong."""


def require(condition: bool, message: str) -> None:
    """Raises `UserInputError(message)` unless `condition` holds."""
    if not condition:
        raise UserInputError(message)
