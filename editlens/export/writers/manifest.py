"""A plain manifest: `manifest.jsonl`, one line per kept edit with its id, coordinates, instruction and the
locations of its images (absolute file paths, or `<parquet file>#rg=..&row=..&col=..`)."""

from __future__ import annotations

import json
from pathlib import Path


def write(rows: list[dict], out: Path, images: str) -> tuple[list[str], int]:
    lines = []
    for r in rows:
        rec = {k: r[k] for k in ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction")}
        for name in ("source", "target", "mask"):
            ref = r[f"{name}_image"]
            rec[f"{name}_image"] = ref.location if ref is not None else None
        rec["source_file"], rec["source_record"] = r["source_file"], r["source_record"]
        lines.append(json.dumps(rec, ensure_ascii=False))
    (out / "manifest.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return ["manifest.jsonl"], 0
