"""bench/RESULTS.md is generated from bench/results/*.json, and every result says command, machine and date."""

from __future__ import annotations

import json

from bench import results

KEYS = {"name", "stage", "command", "date", "machine", "measured", "result", "target", "met"}


def test_every_result_has_its_provenance():
    docs = results.load()
    assert {d["name"] for d in docs} >= {"ingest", "embed", "embed-gpu", "dbt", "dashboards"}
    for d in docs:
        assert KEYS <= set(d), d["name"]
        assert all(str(d[k]).strip() for k in KEYS), d["name"]


def test_results_md_is_generated_from_the_json():
    assert results.RESULTS_MD.read_text(encoding="utf-8") == results.render(results.load())
    assert results.main(["--check"]) == 0


def test_record_writes_what_render_reads(tmp_path):
    p = results.record("demo-bench", stage="s", measured="m", result="1.0 s (2.0x)", target="<= 3 s", met="yes",
                       figures={"s": 1.0}, results_dir=tmp_path)
    doc = json.loads(p.read_text())
    assert doc["command"].startswith("python ") and doc["machine"]["cores"] and doc["date"].endswith("UTC")
    text = results.render(results.load(tmp_path))
    assert "| [demo-bench](#demo-bench) | s | 1.0 s (2.0x) | <= 3 s | yes |" in text
