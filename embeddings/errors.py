"""Errors of the embedding job."""

from __future__ import annotations


class EmbedInputError(Exception):
    """Unusable input (no ingest tables, unknown model, weights that cannot be loaded): exit code 2, one line."""

    exit_code = 2
