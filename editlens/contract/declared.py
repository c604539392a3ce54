"""Tables whose columns are declared once, in the dbt project's `models/staging/__sources.yml` (name, DuckDB
type, description), and whose Arrow schema is derived from that declaration here. Used for `edit_scores`, so a
new score is the scorer's column, the staging column and its YAML line (see ARCHITECTURE.md "How to add a
score")."""

from __future__ import annotations

from importlib import resources

import pyarrow as pa
import yaml

# the DuckDB type spellings the sources YAML uses -> the Arrow type a job writes for them
ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(), "double": pa.float64(), "float": pa.float32(), "integer": pa.int32(),
    "bigint": pa.int64(), "smallint": pa.int16(), "boolean": pa.bool_(), "blob": pa.binary(),
    "varchar[]": pa.list_(pa.string()), "float[]": pa.list_(pa.float32()), "double[]": pa.list_(pa.float64()),
}


def sources_yaml() -> str:
    """The text of the dbt project's sources YAML (package data, found through importlib.resources)."""
    return (resources.files("editlens") / "dbt" / "models" / "staging" / "__sources.yml").read_text("utf-8")


def declared_columns(table: str, text: str | None = None) -> list[tuple[str, str]]:
    """(name, DuckDB type) of `table`'s columns in the `editlens` source, in their declared order."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(text if text is not None else sources_yaml(), Loader=loader)  # noqa: S506 - a safe loader
    (src,) = [s for s in doc["sources"] if s["name"] == "editlens"]
    (tbl,) = [t for t in src["tables"] if t["name"] == table]
    return [(c["name"], str(c["data_type"]).lower()) for c in tbl["columns"]]


def declared_schema(table: str, text: str | None = None) -> pa.Schema:
    """The Arrow schema of `table` as the sources YAML declares it; an unknown type is a ValueError."""
    fields = []
    for name, duck in declared_columns(table, text):
        if duck not in ARROW_TYPES:
            raise ValueError(f"__sources.yml: {table}.{name} has type {duck!r}, which has no Arrow type here")
        fields.append((name, ARROW_TYPES[duck]))
    return pa.schema(fields)
