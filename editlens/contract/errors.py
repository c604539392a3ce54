"""The one error for input a stage cannot use at all (no such path, unknown format, no ingested tables, a model
that cannot be loaded, a bad option). Bad records are never this error: they become reject rows with a reason."""

from __future__ import annotations

EXIT_UNUSABLE_INPUT = 2


class UnusableInput(Exception):
    """Unusable input: the `editlens` command prints its message as one line on stderr and exits with 2."""

    exit_code = EXIT_UNUSABLE_INPUT

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line
