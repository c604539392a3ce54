"""The core of an instruction: the edit request without the framing phrases around it.

Long instruction rewrites (SEED-Data-Edit's GPT-4V rewrites, HQ-Edit's) wrap the request in phrases that say
where the edit happens or what must stay as it is: "In this image, turn the star red, with no other changes."
The instruction-only directional score compares the *change* between source and target embeddings with the
instruction's embedding, and those phrases describe no change: they pull the text embedding towards "an image,
unchanged". `directional_instruction_core` scores the instruction with them removed (`directional_instruction`
keeps formats.md's definition, the whole instruction).

The phrases are regular expressions in an editable file (`embeddings/instruction_frames.csv`: position, pattern,
example), RE2 syntax as DuckDB runs it, matched case-insensitively: ``lead`` patterns at the start of the
instruction (one match removed), then ``tail`` patterns at its end (one match removed). Where nothing is left
(fewer than 3 characters), the core is the whole instruction. The core is computed in SQL, so the text plan and
the edit scores use one definition.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from editlens.contract.errors import UnusableInput

DEFAULT_FRAMES = Path(__file__).resolve().parent / "instruction_frames.csv"
POSITIONS = ("lead", "tail")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class InstructionFrames:
    lead: tuple[str, ...]
    tail: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> InstructionFrames:
        path = Path(path) if path else DEFAULT_FRAMES
        if not path.is_file():
            raise UnusableInput(f"instruction frames file not found: {path}")
        found: dict[str, list[str]] = {p: [] for p in POSITIONS}
        with open(path, newline="", encoding="utf-8") as fh:
            rd = csv.DictReader(fh)
            if not rd.fieldnames or not {"position", "pattern"} <= set(rd.fieldnames):
                raise UnusableInput(f"{path}: needs the columns position, pattern")
            for line, row in enumerate(rd, start=2):
                pos, pat = (row["position"] or "").strip().lower(), (row["pattern"] or "").strip()
                if not pat:
                    continue
                if pos not in POSITIONS:
                    raise UnusableInput(f"{path}:{line}: position must be lead or tail, not {pos!r}")
                found[pos].append(pat)
        frames = cls(tuple(found["lead"]), tuple(found["tail"]))
        frames.check(path)
        return frames

    def check(self, where: object = "instruction frames") -> None:
        """Compile every pattern the way DuckDB will run it; a clear error names the bad one."""
        import duckdb

        con = duckdb.connect()
        for pat in self.lead + self.tail:
            try:
                con.execute(f"select regexp_replace('x', {_sql_str(pat)}, '', 'i')").fetchall()
            except duckdb.Error as exc:
                raise UnusableInput(f"{where}: pattern {pat!r} does not compile: {exc}") from None

    def core_sql(self, expr: str) -> str:
        """SQL for the core of the text expression `expr` (null stays null)."""
        out = expr
        if self.lead:
            lead = _sql_str(r"^\s*(?:" + "|".join(self.lead) + r")\s*")
            out = f"regexp_replace({out}, {lead}, '', 'i')"
        if self.tail:
            tail = _sql_str(r"(?:" + "|".join(self.tail) + r")\s*$")
            out = f"regexp_replace({out}, {tail}, '', 'i')"
        if out == expr:
            return expr
        return f"(case when length(trim({out})) >= 3 then trim({out}) else {expr} end)"

    def cores(self, texts: list[str | None]) -> list[str | None]:
        """The cores of `texts`, computed by DuckDB with `core_sql` (tests, debugging, docs)."""
        import duckdb
        import pyarrow as pa

        tbl = pa.table({"i": list(range(len(texts))), "t": pa.array(texts, type=pa.string())})
        con = duckdb.connect()
        con.register("texts_in", tbl)
        return [r[0] for r in con.execute(f"select {self.core_sql('t')} from texts_in order by i").fetchall()]
