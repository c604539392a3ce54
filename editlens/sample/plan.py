"""The sample's plan: how many edits and records per part, session lengths, and which slot carries which
injected defect (drawn from the one Generator, before any content)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from editlens.sample.config import GPT4V_SHARE, IMAGE_DEFECTS, PART_SHARES, TURN_WEIGHTS, SampleConfig
from editlens.sample.defects import DEFECTS


@dataclass
class Slot:
    """One annotation record: a single-turn edit, or a Part-3 session of `turns` turns."""

    part: str
    index: int
    turns: int = 1
    defects: dict[int, str] = field(default_factory=dict)  # turn -> defect
    dup_of: int | None = None  # duplicate_pair: index of the original record (same part)
    reserved: bool = False  # original of a duplicate: kept clean
    gpt4v: bool = False

    def free(self, turn: int = 1) -> bool:
        return (
            not self.reserved and "malformed_line" not in self.defects.values() and turn not in self.defects
        )


def _part_sizes(n: int) -> dict[str, int]:
    sizes = {p: int(round(n * s)) for p, s in PART_SHARES[:-1]}
    sizes[PART_SHARES[-1][0]] = n - sum(sizes.values())
    return sizes


def _session_turns(budget: int, rng: np.random.Generator) -> list[int]:
    turns: list[int] = []
    ks, ps = list(TURN_WEIGHTS), np.array(list(TURN_WEIGHTS.values()))
    ps = ps / ps.sum()
    if budget >= 12:
        turns.append(6)  # the one long session the card says cannot exist
    while sum(turns) < budget:
        turns.append(min(int(rng.choice(ks, p=ps)), budget - sum(turns)))
    order = rng.permutation(len(turns))
    return [turns[i] for i in order]


def _defect_counts(cfg: SampleConfig) -> dict[str, int]:
    out = {}
    for d in DEFECTS:
        k = int(round(cfg.rates.get(d, 0.0) * cfg.n_edits))
        if cfg.n_edits >= 100 and cfg.rates.get(d, 0.0) > 0:
            k = max(k, cfg.min_per_defect)
        out[d] = k
    total = sum(out.values())
    cap = cfg.n_edits // 2
    if total > cap:  # tiny samples: scale down, keep the kinds
        out = {d: (k * cap) // total for d, k in out.items()}
    return out


def plan(cfg: SampleConfig, rng: np.random.Generator) -> dict[str, list[Slot]]:
    sizes = _part_sizes(cfg.n_edits)
    slots: dict[str, list[Slot]] = {}
    for part in ("part1-openimages", "part1-unsplash", "part2"):
        slots[part] = [Slot(part, i) for i in range(sizes[part])]
    slots["part3"] = [Slot("part3", i, t) for i, t in enumerate(_session_turns(sizes["part3"], rng))]

    counts = _defect_counts(cfg)
    parts = ["part1-openimages", "part1-unsplash", "part2", "part3"]
    # assign in an order that keeps defects disjoint: whole-record ones first
    order = [
        "malformed_line",
        "duplicate_pair",
        "truncated_image",
        "missing_image",
        "noop",
        "wrong_instruction",
        "demographic_term",
        "unsafe_term",
    ]
    for d in order:
        eligible_parts = [p for p in parts if slots[p] and not (d == "duplicate_pair" and p == "part3")]
        start = int(rng.integers(len(eligible_parts))) if eligible_parts else 0
        for k in range(counts[d]):
            for attempt in range(len(eligible_parts)):
                part = eligible_parts[(start + k + attempt) % len(eligible_parts)]
                if _assign(d, slots[part], rng):
                    break
    # GPT-4V rewrites: a share of the clean Part-1 Unsplash records
    clean = [s for s in slots["part1-unsplash"] if not s.defects and not s.reserved]
    n_rw = int(round(len(slots["part1-unsplash"]) * GPT4V_SHARE))
    for i in sorted(rng.permutation(len(clean))[:n_rw].tolist()):
        clean[i].gpt4v = True
    return slots


def _assign(defect: str, part_slots: list[Slot], rng: np.random.Generator) -> bool:
    """Put `defect` on a random free slot of this part; False when none is left."""
    idx = rng.permutation(len(part_slots)).tolist()
    if defect == "malformed_line":
        for i in idx:
            s = part_slots[i]
            if not s.defects and not s.reserved:
                s.defects[1] = defect
                return True
        return False
    if defect == "duplicate_pair":
        free = [i for i in idx if not part_slots[i].defects and not part_slots[i].reserved]
        if len(free) < 2:
            return False
        a, b = sorted(free[:2])
        part_slots[a].reserved = True
        part_slots[b].defects[1] = defect
        part_slots[b].dup_of = a
        return True
    for i in idx:
        s = part_slots[i]
        turns = [s.turns] if defect in IMAGE_DEFECTS else [int(t) for t in rng.permutation(s.turns) + 1]
        for t in turns:
            if s.free(t) and not (s.part == "part3" and defect in IMAGE_DEFECTS and s.defects):
                s.defects[t] = defect
                return True
    return False
