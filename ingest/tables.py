"""Arrow schemas of the four tables ingest writes (the contract in ARCHITECTURE.md)."""

from __future__ import annotations

import pyarrow as pa

TABLES = ("edits", "images", "rejects", "ingest_runs")
DATA_TABLES = ("edits", "images", "rejects")  # written first; ingest_runs is the commit marker, written last

EDITS = pa.schema(
    [
        ("edit_id", pa.string()),
        ("dataset", pa.string()),
        ("part", pa.string()),
        ("split", pa.string()),
        ("session_id", pa.string()),
        ("turn_index", pa.int32()),
        ("source_image_id", pa.string()),
        ("target_image_id", pa.string()),
        ("mask_image_id", pa.string()),
        ("instruction", pa.string()),
        ("instruction_ori", pa.string()),
        ("source_caption", pa.string()),
        ("target_caption", pa.string()),
        ("provided_labels", pa.list_(pa.string())),
        ("provided_scores", pa.string()),
        ("extra", pa.string()),
        ("source_file", pa.string()),
        ("source_record", pa.int64()),
        ("ingest_run_id", pa.string()),
    ]
)

IMAGES = pa.schema(
    [
        ("image_id", pa.string()),
        ("dataset", pa.string()),
        ("part", pa.string()),
        ("location_kind", pa.string()),
        ("root", pa.string()),
        ("path", pa.string()),
        ("row_group", pa.int32()),
        ("row", pa.int64()),
        ("column", pa.string()),
        ("exists", pa.bool_()),
    ]
)

REJECTS = pa.schema(
    [
        ("ingest_run_id", pa.string()),
        ("dataset", pa.string()),
        ("part", pa.string()),
        ("source_file", pa.string()),
        ("source_record", pa.int64()),
        ("turn_index", pa.int32()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("raw", pa.string()),
    ]
)

INGEST_RUNS = pa.schema(
    [
        ("ingest_run_id", pa.string()),
        ("dataset", pa.string()),
        ("part", pa.string()),
        ("source_file", pa.string()),
        ("unit", pa.string()),
        ("shard", pa.string()),
        ("reader", pa.string()),
        ("root", pa.string()),
        ("images_checked", pa.bool_()),
        ("checksum", pa.string()),
        ("records_read", pa.int64()),
        ("records_loaded", pa.int64()),
        ("records_rejected", pa.int64()),
        ("images_referenced", pa.int64()),
        ("images_missing", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.float64()),
    ]
)

SCHEMAS = {"edits": EDITS, "images": IMAGES, "rejects": REJECTS, "ingest_runs": INGEST_RUNS}

# Reject reason codes (the `reason` column).
MALFORMED_JSON = "malformed_json"
MISSING_KEY = "missing_key"
WRONG_TYPE = "wrong_type"
EMPTY_INSTRUCTION = "empty_instruction"
INSTRUCTION_TOO_LONG = "instruction_too_long"
INVALID_UTF8 = "invalid_utf8"
UNSAFE_PATH = "unsafe_path"
DUPLICATE_RECORD = "duplicate_record"
UNREADABLE_PARQUET = "unreadable_parquet"
UNREADABLE_FILE = "unreadable_file"
MISSING_FILE = "missing_file"

REASONS = (
    MALFORMED_JSON,
    MISSING_KEY,
    WRONG_TYPE,
    EMPTY_INSTRUCTION,
    INSTRUCTION_TOO_LONG,
    INVALID_UTF8,
    UNSAFE_PATH,
    DUPLICATE_RECORD,
    UNREADABLE_PARQUET,
    UNREADABLE_FILE,
    MISSING_FILE,
)

MAX_INSTRUCTION_CHARS = 10_000
RAW_EXCERPT_CHARS = 500
