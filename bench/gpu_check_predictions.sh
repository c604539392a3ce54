#!/usr/bin/env bash
# GPU check of embed's prediction stage (editing models' outputs): the MagicBrush fixture of the tests (real
# layout, outputs = targets blurred at two strengths) scored on CUDA (bf16 autocast) and on CPU; prints the
# largest |CUDA - CPU| per score and checks the blur ranking on CUDA. About a minute after start-up.
#     bash bench/gpu_check_predictions.sh     # log in $OUT (or bench/out/gpu)
# Needs the same carried wheels as bench/gpu_check.sh (open_clip_torch, ftfy, wcwidth, duckdb, simplejpeg).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-bench/out/gpu}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
$PY - <<'PY' 2>&1 | tee "$OUT_DIR/gpu_check_predictions.log"
import shutil, sys, tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import tests.fixtures_predictions as F

try:
    import skimage  # noqa: F401
except ImportError:  # the GPU image has no scikit-image: textured noise photos instead
    def photo(seed, size=F.SIZE):
        rng = np.random.default_rng(seed)
        return Image.fromarray(rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)).resize((size, size))
    F.photo = photo

import pyarrow.parquet as pq
from editlens.embeddings.main import EmbedConfig, run_embed
from editlens.ingest.main import IngestConfig, run_ingest
from editlens.ingest.predictions import PredictionsConfig, run_predictions
from editlens.warehouse import Warehouse

base = Path(tempfile.mkdtemp())
root = F.magicbrush_test(base / "downloads")
import os

devices = os.environ.get("PRED_DEVICES", "cuda,cpu").split(",")  # PRED_DEVICES=cpu,cpu: a dry run without a GPU
scores = {}
for n, device in enumerate(devices):
    wh = Warehouse.at(base / f"wh-{n}")
    run_ingest(IngestConfig(path=base / "downloads", warehouse=wh, workers=1))
    for name, r in (("mild", 1.0), ("strong", 4.0)):
        out = F.blurred_outputs(root, base / f"{n}-{name}", r)
        run_predictions(PredictionsConfig(wh, name, out, "magicbrush"))
    s = run_embed(EmbedConfig(warehouse=wh, device=device, progress=False, workers=0 if device == "cpu" else 2))
    print(device, "predictions scored:", s.predictions_scored)
    preds = {r["prediction_id"]: r["model_name"] for p in (wh.parquet_dir / "predictions").glob("*.parquet")
             for r in pq.read_table(p).to_pylist()}
    scores["cuda" if n == 0 else "cpu"] = {r["prediction_id"]: dict(r, model=preds[r["prediction_id"]])
                      for p in (wh.parquet_dir / "prediction_scores").glob("*.parquet")
                      for r in pq.read_table(p).to_pylist()}
ok = True
assert scores["cuda"].keys() == scores["cpu"].keys()
for k in ("l1", "l2", "clip_i", "clip_t"):
    d = max(abs(scores["cuda"][i][k] - scores["cpu"][i][k]) for i in scores["cpu"])
    print(f"{k}: max |cuda - cpu| = {d:.2e}")
    ok &= d < (1e-9 if k in ("l1", "l2") else 2e-2)
cu = scores["cuda"].values()
for k, sign in (("l1", 1), ("clip_i", -1)):
    mild = np.mean([r[k] for r in cu if r["model"] == "mild"])
    strong = np.mean([r[k] for r in cu if r["model"] == "strong"])
    print(f"cuda {k}: mild {mild:.4f} strong {strong:.4f}")
    ok &= sign * (mild - strong) < 0
print("prediction stage on CUDA:", "PASS" if ok else "FAIL")
shutil.rmtree(base, ignore_errors=True)
sys.exit(0 if ok else 1)
PY
