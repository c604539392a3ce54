"""The bundled "shapes world" sample: SEED-Data-Edit's layout, real edits of procedural scenes, injected defects.

generate(out_dir, n_edits=2000, seed=0) -> SampleSummary   writes the sample and its ground truth
world.iter_pairs(n, seed, size=None) -> Iterator[Pair]      in-memory edit pairs (e.g. to train a tiny CLIP)
world.wrong_instruction(pair_or_edit, rng) -> str           an instruction for a different edit of the scene
"""

from editlens.sample import world
from editlens.sample.config import SampleConfig, SampleSummary
from editlens.sample.generate import generate, run
from editlens.sample.world import Pair, iter_pairs, wrong_instruction

__all__ = [
    "Pair",
    "SampleConfig",
    "SampleSummary",
    "generate",
    "iter_pairs",
    "run",
    "world",
    "wrong_instruction",
]
