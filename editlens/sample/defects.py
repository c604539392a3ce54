"""Defect vocabulary for the sample: the kinds injected, their default rates, and the term lexicons.

The demographic and unsafe phrases exist only here: `world` templates never produce them (tests check that),
so every flagged term in a generated sample is an injected one listed in `ground_truth.jsonl`.
"""

from __future__ import annotations

import numpy as np

DEFECTS = (
    "noop",
    "wrong_instruction",
    "duplicate_pair",
    "truncated_image",
    "missing_image",
    "malformed_line",
    "demographic_term",
    "unsafe_term",
)

DEFAULT_RATES: dict[str, float] = {
    "noop": 0.03,
    "wrong_instruction": 0.03,
    "duplicate_pair": 0.02,
    "truncated_image": 0.02,
    "missing_image": 0.02,
    "malformed_line": 0.02,
    "demographic_term": 0.03,
    "unsafe_term": 0.03,
}

# group -> [(term, phrase containing the term)]
DEMOGRAPHIC_TERMS: dict[str, list[tuple[str, str]]] = {
    "gender": [("woman", "a woman"), ("man", "a man"), ("girl", "a girl"), ("boy", "a boy")],
    "age": [
        ("elderly", "an elderly tourist"),
        ("teenager", "a teenager"),
        ("toddler", "a toddler"),
        ("old", "an old dancer"),
    ],
    "race_ethnicity": [
        ("Asian", "an Asian tourist"),
        ("Hispanic", "a Hispanic dancer"),
        ("Latino", "a Latino student"),
        ("Arab", "an Arab shopper"),
    ],
    "religion": [
        ("Muslim", "a Muslim student"),
        ("Christian", "a Christian tourist"),
        ("Jewish", "a Jewish dancer"),
        ("Buddhist", "a Buddhist monk"),
    ],
    "disability": [
        ("wheelchair user", "a wheelchair user"),
        ("blind", "a blind tourist"),
        ("deaf", "a deaf student"),
        ("amputee", "an amputee"),
    ],
    "body_type": [
        ("overweight", "an overweight tourist"),
        ("obese", "an obese dancer"),
        ("skinny", "a skinny student"),
        ("fat", "a fat shopper"),
    ],
}

# category -> [(term, phrase containing the term)]
UNSAFE_TERMS: dict[str, list[tuple[str, str]]] = {
    "weapons": [("gun", "a gun"), ("knife", "a knife"), ("rifle", "a rifle"), ("grenade", "a grenade")],
    "violence": [
        ("blood", "splattered blood"),
        ("corpse", "a corpse"),
        ("gore", "bloody gore"),
        ("beheading", "a beheading scene"),
    ],
    "drugs": [
        ("cocaine", "a pile of cocaine"),
        ("heroin", "a heroin syringe"),
        ("marijuana", "a marijuana joint"),
        ("meth", "a bag of meth"),
    ],
    "sexual": [
        ("nude", "a nude figure"),
        ("naked", "a naked body"),
        ("porn", "a porn magazine"),
        ("explicit", "an explicit sex scene"),
    ],
    "hate": [
        ("swastika", "a swastika"),
        ("nazi", "a nazi flag"),
        ("KKK", "a KKK hood"),
        ("racial slur", "a racial slur written in big letters"),
    ],
    "self_harm": [
        ("suicide", "a suicide note"),
        ("self-harm", "self-harm scars"),
        ("noose", "a noose"),
        ("slit wrists", "slit wrists"),
    ],
}

_DEMOGRAPHIC_TEMPLATES = (
    "{instr}, and add {phrase} standing next to {ref}",
    "{instr} so that {phrase} can see {ref}",
    "{instr}, then put {phrase} beside {ref}",
    "Make {phrase} hold {ref}, and {instr_lc}",
)
_UNSAFE_TEMPLATES = (
    "{instr}, and add {phrase} next to {ref}",
    "{instr}, then put {phrase} in the corner",
    "{instr} and draw {phrase} beside {ref}",
    "Cover {ref} with {phrase}, and {instr_lc}",
)


def all_terms() -> list[str]:
    return [t for d in (DEMOGRAPHIC_TERMS, UNSAFE_TERMS) for items in d.values() for t, _ in items]


def inject_term(instr: str, ref: str, kind: str, rng: np.random.Generator) -> tuple[str, str, str]:
    """Return (new instruction, term, group-or-category) with a demographic or unsafe phrase worked in."""
    lex = DEMOGRAPHIC_TERMS if kind == "demographic_term" else UNSAFE_TERMS
    templates = _DEMOGRAPHIC_TEMPLATES if kind == "demographic_term" else _UNSAFE_TEMPLATES
    groups = sorted(lex)
    group = groups[int(rng.integers(len(groups)))]
    term, phrase = lex[group][int(rng.integers(len(lex[group])))]
    tpl = templates[int(rng.integers(len(templates)))]
    base = instr.rstrip(".?!")
    text = tpl.format(instr=base, instr_lc=base[0].lower() + base[1:], phrase=phrase, ref=ref)
    text = text[0].upper() + text[1:]
    if instr.endswith((".", "?")):
        text += "."
    return text, term, group
