"""Errors the ingest stage raises for input it cannot use at all (as opposed to bad records, which become rejects)."""

from __future__ import annotations


class UnusableInput(Exception):
    """No such path, unknown or undetectable format, bad option: the CLI prints one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line


class IngestBusy(UnusableInput):
    """Another ingest holds the warehouse lock."""
