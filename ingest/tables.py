"""The ingest tables' contract, named for the ingest modules: the schemas, reason codes and limits are written
once in `editlens.contract.tables`; this module only re-exports the ingest part of it (a name added there for
ingest is added to both lists here)."""

from __future__ import annotations

from editlens.contract.tables import (
    DUPLICATE_RECORD,
    EDITS,
    EMPTY_INSTRUCTION,
    IMAGES,
    INGEST_RUNS,
    INSTRUCTION_TOO_LONG,
    INVALID_UTF8,
    MALFORMED_JSON,
    MAX_INSTRUCTION_CHARS,
    MISSING_COLUMN,
    MISSING_FILE,
    MISSING_KEY,
    RAW_EXCERPT_CHARS,
    REASONS,
    REJECTS,
    UNKNOWN_FORMAT,
    UNREADABLE_FILE,
    UNREADABLE_PARQUET,
    UNSAFE_PATH,
    WRONG_TYPE,
)
from editlens.contract.tables import INGEST_DATA_TABLES as DATA_TABLES
from editlens.contract.tables import INGEST_SCHEMAS as SCHEMAS
from editlens.contract.tables import INGEST_TABLES as TABLES

__all__ = [
    "DATA_TABLES",
    "SCHEMAS",
    "TABLES",
    "DUPLICATE_RECORD",
    "EDITS",
    "EMPTY_INSTRUCTION",
    "IMAGES",
    "INGEST_RUNS",
    "INSTRUCTION_TOO_LONG",
    "INVALID_UTF8",
    "MALFORMED_JSON",
    "MAX_INSTRUCTION_CHARS",
    "MISSING_COLUMN",
    "MISSING_FILE",
    "MISSING_KEY",
    "RAW_EXCERPT_CHARS",
    "REASONS",
    "REJECTS",
    "UNKNOWN_FORMAT",
    "UNREADABLE_FILE",
    "UNREADABLE_PARQUET",
    "UNSAFE_PATH",
    "WRONG_TYPE",
]
