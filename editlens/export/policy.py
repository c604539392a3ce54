"""Export policies as files: a YAML document -> a validated ``Policy`` (rules, score thresholds, a raw SQL
``where``, the multi-turn mode). Anything unusable is a ``PolicyError`` (exit code 2) naming the bad key.

```yaml
name: clean-v1
drop: [noop, broken_image, duplicate, misaligned, unsafe_introduced]
require:
  - clip_i >= 0.75                      # a score column of edit_scores, an operator, a number
  - {score: directional_instruction, op: ">=", value: 0.2}
model: editlens-tiny                    # model key (16 hex) or model name the thresholds read; default: the marts' model
unscored: drop                          # an edit without that score: drop (default) or keep
where: "dataset = 'seed-data-edit'"     # optional SQL over the edits and edit_quality_flags marts: keep where true
multi_turn: cut                         # a failing turn: cut the session there (default) or drop_session
```
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from editlens.contract import UnusableInput


class PolicyError(UnusableInput):
    """An unusable policy file or a policy the warehouse cannot apply (exit code 2)."""


@dataclass(frozen=True)
class Rule:
    name: str
    column: str  # the edit_quality_flags column whose true value removes the edit (null: not removed)
    description: str


# Named rules: each removes the edits whose flag in `edit_quality_flags` is true.
RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("noop", "is_noop", "no-op: target equals source"),
    Rule("broken_image", "has_broken_image", "source or target image missing or unreadable"),
    Rule("duplicate", "is_duplicate_pair", "exact duplicate (source, target) pair; the first of each group is kept"),
    Rule("near_duplicate_source", "has_near_duplicate_source", "source within the near-duplicate pHash distance of another"),
    Rule("misaligned", "is_misaligned", "the change does not follow the instruction (directional score below threshold)"),
    Rule("full_regeneration", "is_full_regeneration", "the target is a new image (CLIP-I below threshold)"),
    Rule("chain_break", "is_chain_break", "multi-turn: the source is not the previous turn's target"),
    Rule("content_overlap", "has_content_overlap", "image content also in another dataset or split"),
    Rule("unsafe_introduced", "unsafe_image_introduced", "target flagged unsafe while the source is not"),
    Rule("unsafe_instruction", "mentions_unsafe_term", "instruction mentions a safety lexicon term"),
    Rule("watermark_removal", "asks_watermark_removal", "asks to remove a watermark, logo or signature"),
    Rule("demographic_mention", "mentions_demographic_term", "instruction or captions mention a demographic term"),
)}

OPS = (">=", "<=", "==", "!=", ">", "<")
MULTI_TURN_MODES = ("cut", "drop_session")
UNSCORED_MODES = ("drop", "keep")
TOP_KEYS = ("name", "description", "drop", "require", "model", "unscored", "where", "multi_turn")
_THRESHOLD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    score: str  # a column of stg_editlens__edit_scores
    op: str
    value: float

    @property
    def name(self) -> str:
        return f"{self.score} {self.op} {self.value:g}"

    def sql(self, qualifier: str) -> str:
        op = "=" if self.op == "==" else self.op
        return f"{qualifier}.{self.score} {op} {self.value!r}"


@dataclass(frozen=True)
class Policy:
    name: str
    drop: tuple[str, ...] = ()
    require: tuple[Threshold, ...] = ()
    model: str | None = None
    unscored: str = "drop"
    where: str | None = None
    multi_turn: str = "cut"
    description: str = ""
    sha256: str = ""  # of the file's bytes: the card names the exact policy
    source_text: str = field(default="", repr=False)

    def rule_names(self) -> list[str]:
        """Every check in the order the card lists them: named rules, thresholds, then `where`."""
        return list(self.drop) + [t.name for t in self.require] + (["where"] if self.where else [])


def _threshold(item, i: int) -> Threshold:
    where = f"require[{i}]"
    if isinstance(item, str):
        m = _THRESHOLD.match(item)
        if not m:
            raise PolicyError(f"{where}: {item!r} is not `<score> <op> <number>` (ops: {' '.join(OPS)})")
        return Threshold(m.group(1), m.group(2), float(m.group(3)))
    if isinstance(item, dict):
        unknown = set(item) - {"score", "op", "value"}
        if unknown:
            raise PolicyError(f"{where}: unknown key(s) {sorted(unknown)} (expected score, op, value)")
        score, op, value = item.get("score"), item.get("op", ">="), item.get("value")
        if not isinstance(score, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", score):
            raise PolicyError(f"{where}: `score` must be a score column name")
        if op not in OPS:
            raise PolicyError(f"{where}: unknown operator {op!r} (known: {' '.join(OPS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PolicyError(f"{where}: `value` must be a number")
        return Threshold(score, op, float(value))
    raise PolicyError(f"{where}: expected a string like 'clip_i >= 0.75' or a mapping")


def parse_policy(text: str, default_name: str = "policy") -> Policy:
    """Validate a policy document's structure (columns and models are checked against the warehouse by ``select.evaluate``)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PolicyError("a policy is a YAML mapping (keys: " + ", ".join(TOP_KEYS) + ")")
    unknown = [k for k in doc if k not in TOP_KEYS]
    if unknown:
        raise PolicyError(f"unknown key(s) {unknown}; known: {', '.join(TOP_KEYS)}")
    drop = doc.get("drop") or []
    if isinstance(drop, str):
        drop = [drop]
    if not isinstance(drop, list) or not all(isinstance(r, str) for r in drop):
        raise PolicyError("`drop` must be a list of rule names")
    bad = [r for r in drop if r not in RULES]
    if bad:
        raise PolicyError(f"unknown rule(s) {bad}; known rules: {', '.join(RULES)}")
    if len(set(drop)) != len(drop):
        raise PolicyError("`drop` names a rule twice")
    require = doc.get("require") or []
    if not isinstance(require, list):
        require = [require]
    thresholds = tuple(_threshold(item, i) for i, item in enumerate(require))
    model = doc.get("model")
    if model is not None and not isinstance(model, str):
        raise PolicyError("`model` must be a model key or model name (a string)")
    unscored = doc.get("unscored", "drop")
    if unscored not in UNSCORED_MODES:
        raise PolicyError(f"`unscored` must be one of {', '.join(UNSCORED_MODES)}")
    multi_turn = doc.get("multi_turn", "cut")
    if multi_turn not in MULTI_TURN_MODES:
        raise PolicyError(f"`multi_turn` must be one of {', '.join(MULTI_TURN_MODES)}")
    where = doc.get("where")
    if where is not None:
        if not isinstance(where, str) or not where.strip():
            raise PolicyError("`where` must be a non-empty SQL expression")
        if ";" in where:
            raise PolicyError("`where` is one SQL expression (no `;`)")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise PolicyError("`name` must be a non-empty string")
    return Policy(
        name=name, drop=tuple(drop), require=thresholds, model=model, unscored=unscored,
        where=where.strip() if where else None, multi_turn=multi_turn,
        description=str(doc.get("description") or ""),
        sha256=hashlib.sha256(text.encode()).hexdigest(), source_text=text,
    )


def load_policy(path: str | Path) -> Policy:
    p = Path(path)
    if not p.is_file():
        raise PolicyError(f"no such policy file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy {p}: {exc}") from None
    try:
        return parse_policy(text, default_name=p.stem)
    except PolicyError as exc:
        raise PolicyError(f"{p}: {exc}") from None


def dump_policy(policy: Policy) -> str:
    """The policy as YAML (what the dashboard saves); ``parse_policy(dump_policy(p))`` gives ``p`` back."""
    doc: dict = {"name": policy.name}
    if policy.description:
        doc["description"] = policy.description
    doc["drop"] = list(policy.drop)
    if policy.require:
        doc["require"] = [f"{t.score} {t.op} {t.value:g}" for t in policy.require]
    if policy.model:
        doc["model"] = policy.model
    doc["unscored"] = policy.unscored
    if policy.where:
        doc["where"] = policy.where
    doc["multi_turn"] = policy.multi_turn
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


_SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def save_policy(policy: Policy, folder: str | Path) -> Path:
    """Write the policy as `<folder>/<name>.yaml` (temporary name, then rename); returns the path."""
    if not _SAVE_NAME.match(policy.name):
        raise PolicyError(f"policy name {policy.name!r}: letters, digits, `_`, `.`, `-` only, to be a file name")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{policy.name}.yaml"
    tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text(dump_policy(policy), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
