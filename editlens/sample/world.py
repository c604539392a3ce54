"""The procedural "shapes world": scenes of coloured shapes (`scenes`), drawn with Pillow (`render`), real edits of
them (`edits`) and texts describing both (`texts`); this module is the pair stream over them.

It is also the world interface the tiny model's training and evaluation programs import (`--world`):
`iter_pairs(n, seed)`, `make_pair`, and for two-operation edits and wrong-instruction negatives `random_edit`,
`make_edit`, `applicable_ops`, `render`, `instruction`, `caption` and `wrong_instruction`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from editlens.sample.edits import applicable_ops, make_edit, random_edit
from editlens.sample.render import render
from editlens.sample.scenes import Edit, Pair, _pick, random_scene
from editlens.sample.texts import caption, instruction

# the world interface (see the module docstring)
__all__ = ["Pair", "applicable_ops", "caption", "instruction", "iter_pairs", "make_edit", "make_pair", "random_edit",
           "render", "wrong_instruction"]



def wrong_instruction(pair_or_edit: Pair | Edit, rng: np.random.Generator) -> str:
    """An instruction for a DIFFERENT edit of the same source scene (another operation where possible)."""
    edit = pair_or_edit.edit if isinstance(pair_or_edit, Pair) else pair_or_edit
    if edit is None:
        raise ValueError("wrong_instruction needs a Pair produced by iter_pairs (with .edit) or an Edit")
    scene = edit.scene
    others = [o for o in applicable_ops(scene) if o != edit.op]
    # a different effect op is visually different too; a different object op on another shape as well
    op = _pick(rng, others)
    other = make_edit(scene, op, rng)
    return instruction(other, rng)


def make_pair(edit: Edit, rng: np.random.Generator, source: Image.Image | None = None) -> Pair:
    src = source if source is not None else render(edit.scene)
    return Pair(
        source=src,
        target=render(edit.result),
        instruction=instruction(edit, rng),
        source_caption=caption(edit.scene),
        target_caption=caption(edit.result),
        label=edit.label,
        op=edit.op,
        edit=edit,
    )


def iter_pairs(n: int, seed: int, size: int | None = None) -> Iterator[Pair]:
    """`n` independent single-operation edit pairs (deterministic for `seed`); `size` fixes square images."""
    rng = np.random.default_rng([seed, 0x5EED])
    for _ in range(n):
        scene = random_scene(rng, size=size)
        if rng.random() < 0.15:  # some sources already carry a global effect
            eff = random_edit(scene, rng, ops=["brightness", "contrast", "blur"])
            scene = eff.result
        edit = random_edit(scene, rng)
        yield make_pair(edit, rng)
