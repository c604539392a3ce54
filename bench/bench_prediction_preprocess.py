"""How much the prediction stage's preprocessing moves CLIP-I against the published recipe.

The protocols' CLIP scores run open_clip's eval transform (Pillow resize + centre crop); the prediction stage
makes the model input as the image stage does (torch's antialiased uint8 resize where the transform allows it).
On N pairs (a photo crop as the reference, the same crop blurred and resized as the output) this embeds both
ways with the bundled model and reports the largest and mean |CLIP-I difference|. Target: below 1e-3.

    .venv/bin/python bench/bench_prediction_preprocess.py [--pairs 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from PIL import ImageFilter  # noqa: E402

from editlens.embeddings.encoder import Encoder, device_settings  # noqa: E402
from editlens.embeddings.models import load_model  # noqa: E402
from editlens.embeddings.predictions import model_input  # noqa: E402
from tests.fixtures_predictions import photo  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args(argv)
    loaded = load_model()
    enc, pp = Encoder(loaded, device_settings("cpu")), loaded.spec.preprocess
    diffs = []
    for i in range(a.pairs):
        ref = photo(i, 256)
        out = ref.filter(ImageFilter.GaussianBlur(2)).resize((200, 200))
        ours = enc.images(np.stack([model_input(pp, out), model_input(pp, ref)])).astype(np.float64)
        pil = enc.images(np.stack([pp.to_model_input(out), pp.to_model_input(ref)])).astype(np.float64)
        diffs.append(abs(float(ours[0] @ ours[1]) - float(pil[0] @ pil[1])))
    worst, mean = max(diffs), float(np.mean(diffs))
    met = worst < 1e-3
    print(f"{a.pairs} pairs, {loaded.spec.name}: |CLIP-I ours - Pillow transform| max {worst:.2e}, mean {mean:.2e} "
          f"({'met' if met else 'NOT met'}: target < 1e-3)")
    if not a.no_record:
        import results

        results.record("prediction-preprocess", stage="embed (predictions)",
                       measured=f"|CLIP-I difference|, torch resize vs Pillow eval transform, {a.pairs} pairs, "
                                f"{loaded.spec.name}",
                       result=f"max {worst:.1e}, mean {mean:.1e}", target="< 1e-3", met="yes" if met else "no",
                       figures={"max": worst, "mean": mean, "pairs": a.pairs})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
