"""The one exception type for user-facing errors.

Anything raised as HwflowError is printed by the CLI as a single line
(``error: ...``) with a non-zero exit and no traceback.  The message must say what
is wrong and what to do about it.
"""


class HwflowError(Exception):
    """A problem with the user's input or environment, not a bug in hwflow."""
