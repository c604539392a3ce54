"""Arrow schemas of every job table (the contract in ARCHITECTURE.md), the reject reason codes and the ingest
record limits. Written once here; ingest and embed write these schemas and `models/staging/__sources.yml`
declares exactly these columns (a test checks it). `edit_scores` is the one table declared only in that YAML
(`declared.py` derives its Arrow schema), so that a score is described once."""

from __future__ import annotations

import pyarrow as pa

from editlens.contract.declared import declared_schema

# ---------------------------------------------------------------------------------------------------------
# written by ingest

INGEST_TABLES = ("edits", "images", "rejects", "ingest_runs")
INGEST_DATA_TABLES = ("edits", "images", "rejects")  # written first; ingest_runs is the commit marker, written last

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

INGEST_SCHEMAS: dict[str, pa.Schema] = {
    "edits": EDITS, "images": IMAGES, "rejects": REJECTS, "ingest_runs": INGEST_RUNS,
}

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
MISSING_COLUMN = "missing_column"
UNKNOWN_FORMAT = "unknown_format"
DUPLICATE_KEY = "duplicate_key"  # a JSON object naming one key twice (never a silent overwrite)
TOO_DEEP = "too_deep"  # a value nested deeper than `IngestLimits.max_depth`
TOO_LARGE = "too_large"  # a line over `IngestLimits.max_line_bytes`, a file over `max_file_bytes`
TOO_MANY_TURNS = "too_many_turns"  # a multi-turn record naming a turn above `IngestLimits.max_turns`
SPECIAL_FILE = "special_file"  # an annotation path that is a FIFO, device or socket: never opened

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
    MISSING_COLUMN,
    UNKNOWN_FORMAT,
    DUPLICATE_KEY,
    TOO_DEEP,
    TOO_LARGE,
    TOO_MANY_TURNS,
    SPECIAL_FILE,
)

MAX_INSTRUCTION_CHARS = 10_000
RAW_EXCERPT_CHARS = 500


# ---------------------------------------------------------------------------------------------------------
# written by embed

IMAGE_FACTS = "image_facts"
IMAGE_EMBEDDINGS = "image_embeddings"
TEXT_EMBEDDINGS = "text_embeddings"
IMAGE_CONCEPTS = "image_concepts"
EDIT_SCORES = "edit_scores"
EMBED_MODELS = "embed_models"
IMAGE_DETECTIONS = "image_detections"  # optional: `editlens embed --detectors` (embeddings/detectors.py)
EDIT_PROJECTIONS = "edit_projections"  # the browse stage: 2-D map coordinates per edit (embeddings/browse.py)
EMBED_TABLES = (IMAGE_FACTS, IMAGE_EMBEDDINGS, TEXT_EMBEDDINGS, IMAGE_CONCEPTS, EDIT_SCORES, EMBED_MODELS,
                IMAGE_DETECTIONS, EDIT_PROJECTIONS)
# the embedding spaces an edit is mapped and searched in: its source image, its instruction, and the direction of
# the edit (target minus source image embedding, re-normalised)
PROJECTION_SPACES = ("image", "instruction", "direction")

# `image_facts.status` values (`editlens/contract/limits.py` says which limit gives which)
IMAGE_STATUSES = ("ok", "missing", "truncated", "too_large", "unsupported", "unsafe_path", "error")

EMBED_SCHEMAS: dict[str, pa.Schema] = {
    IMAGE_FACTS: pa.schema([
        ("image_id", pa.string()),
        ("sha256", pa.string()),
        ("phash", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("mode", pa.string()),
        ("file_size", pa.int64()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("brightness", pa.float64()),
        ("contrast", pa.float64()),
        ("entropy", pa.float64()),
        ("blur", pa.float64()),
        ("thumb", pa.binary()),
    ]),
    IMAGE_EMBEDDINGS: pa.schema([
        ("sha256", pa.string()),
        ("model_key", pa.string()),
        ("embedding", pa.list_(pa.float32())),
    ]),
    TEXT_EMBEDDINGS: pa.schema([
        ("text_hash", pa.string()),
        ("model_key", pa.string()),
        ("embedding", pa.list_(pa.float32())),
    ]),
    IMAGE_CONCEPTS: pa.schema([
        ("sha256", pa.string()),
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("preprocess", pa.string()),
        ("prompt_set", pa.string()),
        ("concept_group", pa.string()),
        ("concept", pa.string()),
        ("score", pa.float32()),
    ]),
    # one column per score, declared once with its type and description in models/staging/__sources.yml
    EDIT_SCORES: declared_schema(EDIT_SCORES),
    EMBED_MODELS: pa.schema([
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("weights_sha256", pa.string()),
        ("preprocess", pa.string()),
        ("embed_dim", pa.int32()),
        ("logit_scale", pa.float64()),
    ]),
    # one row per image content and detector; boxes x0,y0,x1,y1 in thousandths, largest first, ';'-separated;
    # class_labels[i] has the highest score class_scores[i] of its boxes
    IMAGE_DETECTIONS: pa.schema([
        ("sha256", pa.string()),
        ("detector", pa.string()),
        ("detector_version", pa.string()),
        ("status", pa.string()),
        ("message", pa.string()),
        ("n_detections", pa.int32()),
        ("largest_share", pa.float32()),
        ("boxes", pa.string()),
        ("class_labels", pa.list_(pa.string())),
        ("class_scores", pa.list_(pa.float32())),
    ]),
    # one row per edit, model, space and method: the edit's point on the map
    EDIT_PROJECTIONS: pa.schema([
        ("edit_id", pa.string()),
        ("model_key", pa.string()),
        ("space", pa.string()),
        ("method", pa.string()),
        ("x", pa.float32()),
        ("y", pa.float32()),
    ]),
}


# ---------------------------------------------------------------------------------------------------------
# written by the dashboards (append-only: one file per save, never rewritten; the latest row per key wins)

EDIT_TAGS = "edit_tags"
FLAG_VERDICTS = "flag_verdicts"
REVIEW_TABLES = (EDIT_TAGS, FLAG_VERDICTS)
TAGS = ("keep", "drop", "needs-review")
VERDICTS = ("right", "wrong", "unsure")  # is the flag's decision on this edit right?

REVIEW_SCHEMAS: dict[str, pa.Schema] = {
    EDIT_TAGS: pa.schema([
        ("edit_id", pa.string()),
        ("tag", pa.string()),
        ("reviewer", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]),
    FLAG_VERDICTS: pa.schema([
        ("edit_id", pa.string()),
        ("flag", pa.string()),            # an edit_quality_flags column, e.g. is_noop
        ("flagged", pa.bool_()),          # the flag's value when the edit was reviewed
        ("sample", pa.string()),          # the queue it came from: flagged or unflagged
        ("sample_seed", pa.int64()),
        ("verdict", pa.string()),         # right, wrong, unsure
        ("model_key", pa.string()),       # the scores' model the flag was computed with (null: not model-based)
        ("reviewer", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]),
}

# every job table (DIR/parquet/<table>/)
SCHEMAS: dict[str, pa.Schema] = {**INGEST_SCHEMAS, **EMBED_SCHEMAS, **REVIEW_SCHEMAS}


# ---------------------------------------------------------------------------------------------------------
# written by `editlens predictions` (one editing model's outputs for a benchmark) and scored by embed

PREDICTIONS = "predictions"
PREDICTION_SCORES = "prediction_scores"
PREDICTION_TABLES = (PREDICTIONS, PREDICTION_SCORES)

# predictions.status: the output was found (`ok`), a benchmark edit has no output (`missing`), an output names
# no benchmark edit (`unmatched`), or its path is unusable (`unsafe_path`); unreadable outputs are found when
# they are decoded (prediction_scores.status)
PREDICTION_STATUSES = ("ok", "missing", "unmatched", "unsafe_path")
# predictions.setting: MagicBrush's two (every turn from the ground-truth input; iterative editing), or single
PREDICTION_SETTINGS = ("inde", "iter", "single")

PREDICTION_SCHEMAS: dict[str, pa.Schema] = {
    PREDICTIONS: pa.schema([
        ("prediction_id", pa.string()),
        ("predictions_run_id", pa.string()),
        ("model_name", pa.string()),
        ("benchmark", pa.string()),
        ("layout", pa.string()),
        ("setting", pa.string()),
        ("edit_id", pa.string()),
        ("benchmark_key", pa.string()),
        ("turn_index", pa.int32()),
        ("location_kind", pa.string()),
        ("root", pa.string()),
        ("path", pa.string()),
        ("row_group", pa.int32()),
        ("row", pa.int64()),
        ("column", pa.string()),
        ("status", pa.string()),
        ("message", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]),
    PREDICTION_SCORES: pa.schema([
        ("prediction_id", pa.string()),
        ("predictions_run_id", pa.string()),
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("preprocess", pa.string()),
        ("protocol", pa.string()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("output_sha256", pa.string()),
        ("output_width", pa.int32()),
        ("output_height", pa.int32()),
        ("l1", pa.float64()),
        ("l2", pa.float64()),
        ("clip_i", pa.float64()),
        ("clip_t", pa.float64()),
        ("directional_caption", pa.float64()),
        ("dino", pa.float64()),
        ("dino_model", pa.string()),
        ("null_reason", pa.string()),
    ]),
}

SCHEMAS.update(PREDICTION_SCHEMAS)
