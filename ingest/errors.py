"""Ingest's unusable-input errors: the contract's `UnusableInput` (exit code 2, one line), and the lock case."""

from __future__ import annotations

from editlens.contract.errors import UnusableInput


class IngestBusy(UnusableInput):
    """Another ingest holds the warehouse lock."""


__all__ = ["IngestBusy", "UnusableInput"]
