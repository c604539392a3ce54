"""Accuracy of `language_guess` (int_instruction_features) on a labelled sample of real and written texts.

The sample, tests/data/language_labelled.csv, holds one row per text: its language and either the text itself
(`origin` = written: short instructions in 16 languages) or a reference `part2-dev:LINE:FIELD` to a record of
../shared/data/seed-part2-dev.jsonl (SEED-Data-Edit Part-2: every instruction of 8 words or fewer plus a random
62 others, labelled en, and the Chinese `instruction_cn` of the same records, labelled zh). The texts become the
instructions of a throw-away warehouse, the real dbt models run (seeds -> stg_editlens__edits -> int_instructions
-> int_instruction_features), and each guess is compared with the label. Prints accuracy overall, per language
and on the texts of 8 words or fewer, the confusions, and the same figures for the lingua-language-detector
package when it is installed (a reference, not used by the models). Rows referring to the data file are skipped
when it is absent. Exits 1 when accuracy is below --target (0.95).

    .venv/bin/python bench/bench_language.py [--data PATH] [--labels CSV] [--target 0.95]
"""

from __future__ import annotations

import argparse
import collections
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
from common import DEFAULT_DATA, REPO, edits_table, load_records

from editlens.build import BuildConfig, dbt_command
from editlens.warehouse import Warehouse, atomic_write_table

DEFAULT_LABELS = REPO / "tests" / "data" / "language_labelled.csv"
LINGUA_CODES = {"ENGLISH": "en", "CHINESE": "zh", "JAPANESE": "ja", "KOREAN": "ko", "RUSSIAN": "ru",
                "ARABIC": "ar", "SPANISH": "es", "FRENCH": "fr", "GERMAN": "de", "ITALIAN": "it",
                "PORTUGUESE": "pt", "DUTCH": "nl", "GREEK": "el", "HEBREW": "he", "HINDI": "hi", "THAI": "th"}


def load_sample(labels: Path, data: Path) -> list[tuple[str, str]]:
    records = None
    if data.is_file():
        records = load_records(data)
    out = []
    with labels.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["origin"] == "written":
                out.append((row["language"], row["text"]))
            elif records is not None:
                _, line, field = row["origin"].split(":")
                out.append((row["language"], records[int(line)][field]))
    return out


def guesses(texts: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-language-") as tmp:
        wh = Warehouse.at(tmp).ensure()
        atomic_write_table(edits_table([{"instruction": t} for t in texts]), wh.shard_path("edits", "sample"))
        env_cmd = [dbt_command(BuildConfig(warehouse=wh, command=c, dbt_args=a)) for c, a in (
            ("seed", ["--quiet"]),
            ("run", ["--select", "+int_instruction_features", "--quiet", "--vars", "{export_marts: false}"]))]
        for cmd, env in env_cmd:
            subprocess.run(cmd, env=env, check=True, cwd=str(REPO))
        con = duckdb.connect(str(wh.duckdb_path), read_only=True)
        try:
            got = dict(con.sql("""select e.edit_id, f.language_guess from stg_editlens__edits e
                                  join int_instruction_features f using (instruction_key)""").fetchall())
        finally:
            con.close()
    return [got[f"{i:016x}"] for i in range(len(texts))]


def lingua_guesses(texts: list[str]) -> list[str] | None:
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return None
    detector = LanguageDetectorBuilder.from_all_languages().build()
    out = []
    for t in texts:
        lang = detector.detect_language_of(t)
        out.append(LINGUA_CODES.get(lang.name, lang.name.lower()) if lang else "unknown")
    return out


def report(name: str, sample: list[tuple[str, str]], pred: list[str]) -> dict:
    ok = [lab == p for (lab, _), p in zip(sample, pred)]
    short = [o for (lab, t), o in zip(sample, ok) if len(t.split()) <= 8 or lab in ("zh", "ja", "ko", "th")]
    print(f"{name}: accuracy {sum(ok) / len(ok):.3f} ({sum(ok)}/{len(ok)}); texts of <= 8 words "
          f"(or CJK/Thai): {sum(short) / max(1, len(short)):.3f} ({sum(short)}/{len(short)})")
    per = collections.defaultdict(lambda: [0, 0])
    for (lab, _), o in zip(sample, ok):
        per[lab][0] += o
        per[lab][1] += 1
    print("  " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(per.items(), key=lambda kv: -kv[1][1])))
    wrong = collections.Counter((lab, p) for (lab, _), p, o in zip(sample, pred, ok) if not o)
    for (lab, p), n in wrong.most_common():
        examples = [t for (la, t), pp in zip(sample, pred) if (la, pp) == (lab, p)][:2]
        print(f"  {lab} -> {p}: {n}  e.g. {examples}")
    return {"accuracy": sum(ok) / len(ok), "n_ok": sum(ok), "n": len(ok), "short_accuracy": sum(short) / max(1, len(short)),
            "n_short_ok": sum(short), "n_short": len(short), "per_language": {k: v for k, v in sorted(per.items())},
            "misses": [[lab, p, n] for (lab, p), n in wrong.most_common()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--record", action="store_true",
                    help="write the figures to bench/results/language.json (then `python bench/results.py`)")
    a = ap.parse_args(argv)
    sample = load_sample(a.labels, a.data)
    print(f"sample: {len(sample)} texts ({a.labels.name}; data file {'found' if a.data.is_file() else 'absent'})")
    got = report("language_guess (dbt)", sample, guesses([t for _, t in sample]))
    ref = lingua_guesses([t for _, t in sample])
    ref_got = report("lingua-language-detector (reference)", sample, ref) if ref is not None else None
    acc = got["accuracy"]
    if a.record:
        from bench.results import record

        ref_text = (f"; lingua-language-detector (reference, not used by the models) {ref_got['accuracy']:.3f} "
                    f"({ref_got['n_ok']}/{ref_got['n']})") if ref_got else ""
        record("language", stage="dbt (instruction language)",
               measured=f"`language_guess` of int_instruction_features (the real dbt models) against the language "
                        f"labels of {a.labels.name}: real SEED-Data-Edit Part-2 instructions (en) and their "
                        "instruction_cn (zh), plus short instructions written in 16 languages (in-sample: the word "
                        "lists were written with them); the lingua-language-detector package as the same-run "
                        "reference",
               result=f"accuracy {acc:.3f} ({got['n_ok']}/{got['n']}); texts of <= 8 words or CJK/Thai "
                      f"{got['short_accuracy']:.3f} ({got['n_short_ok']}/{got['n_short']}){ref_text}",
               target=f">= {a.target}", met="yes" if acc >= a.target else "no",
               notes="misses (label -> guess, n): " + (", ".join(f"{lab} -> {p} {n}" for lab, p, n in got["misses"])
                                                       or "none"),
               figures={"language_guess": got, "lingua": ref_got})
    return 0 if acc >= a.target else 1


if __name__ == "__main__":
    sys.exit(main())
