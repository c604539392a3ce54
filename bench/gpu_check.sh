#!/usr/bin/env bash
# GPU speed check for the embedding job: end to end from JPEG files on one GPU, random weights.
# Targets on one H100: ViT-B-32 >= 4,000 images/s and ViT-L-14 >= 1,500 images/s end to end; with the device JPEG
# decode (nvJPEG, `--decode device`, the default on CUDA) ViT-B-32 end to end >= 0.6x its forward-only speed, and
# the stored embeddings of the device decode equal the CPU decode's (cosine >= 0.999, on the small warehouse).
# DECODE_ONLY=1 runs only the decode checks (ViT-B-32 with --decode device and --decode cpu, then the equality).
#
# Run from the repository root on the GPU machine, as one short script (about 3-5 minutes with start-up):
#     bash bench/gpu_check.sh            # results land in $OUT (or bench/out/gpu) as JSON + log
#
# The GPU image has torch, pillow, numpy, pyarrow, timm, huggingface_hub, safetensors, tqdm, regex but not
# open_clip_torch, ftfy, wcwidth or duckdb. Carry them as wheels (device README), prepared here once:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#         -d .whl open_clip_torch==3.3.0 ftfy wcwidth duckdb==1.5.6 simplejpeg==1.9.0
# and call the device tool with carry [".whl"]. Environment knobs: N_B32, N_L14, WORKERS, ROUNDS.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-bench/out/gpu}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    nproc; df -h /dev/shm || true
    $PY - <<'PY'
import importlib, sys
missing = [m for m in ("torch", "open_clip", "duckdb", "pyarrow", "PIL", "tqdm") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing Python packages: {missing} (carry wheels, see bench/gpu_check.sh)")
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
} 2>&1 | tee "$OUT_DIR/gpu_check.log"
[ "${PIPESTATUS[0]}" = 0 ] || exit 2

rc=0
COMMON=(--device cuda --random-weights --rounds "${ROUNDS:-2}" --out /tmp/editlens-bench)
[ -n "${WORKERS:-}" ] && COMMON+=(--workers "$WORKERS")
# the device decode against its target (0.6x forward-only), then the CPU decode on the same files for reference
$PY bench/bench_embed.py --model ViT-B-32 --n "${N_B32:-40000}" --decode device --min-ratio 0.6 "${COMMON[@]}" 2>&1 \
    | tee -a "$OUT_DIR/gpu_check.log" || rc=1
$PY bench/bench_embed.py --model ViT-B-32 --n "${N_B32:-40000}" --decode cpu "${COMMON[@]}" 2>&1 \
    | tee -a "$OUT_DIR/gpu_check.log" || true
if [ -z "${DECODE_ONLY:-}" ]; then
    $PY bench/bench_embed.py --model ViT-B-32 --n "${N_B32:-40000}" --min-e2e 4000 "${COMMON[@]}" 2>&1 \
        | tee -a "$OUT_DIR/gpu_check.log" || rc=1
    $PY bench/bench_embed.py --model ViT-L-14 --n "${N_L14:-20000}" --min-e2e 1500 "${COMMON[@]}" 2>&1 \
        | tee -a "$OUT_DIR/gpu_check.log" || rc=1
fi
cp /tmp/editlens-bench/result-*.json "$OUT_DIR/" 2>/dev/null || true
# the CUDA path of the test-suite (device selection, bf16 autocast) on the small warehouse, once with the device
# JPEG decode and once with the CPU decode: same statuses, embeddings equal (cosine >= 0.999)
$PY - <<'PY' 2>&1 | tee -a "$OUT_DIR/gpu_check.log" || rc=1
import sys
import tempfile

import duckdb
import numpy as np

sys.path.insert(0, "tests")
from editlens.embeddings.main import EmbedConfig, run_embed
from embed_warehouses import build_warehouse

def run(decode):
    wh = build_warehouse(tempfile.mkdtemp())["warehouse"]
    s = run_embed(EmbedConfig(warehouse=wh, device="cuda", model="ViT-B-32", allow_random_weights=True,
                              progress=False, shard_size=4, workers=2, decode=decode))
    print(decode, s.describe())
    rows = duckdb.sql(f"select sha256, embedding from read_parquet('{wh.table_glob('image_embeddings')}')").fetchall()
    return s, {k: np.array(v) for k, v in rows}

s_dev, e_dev = run("device")
s_cpu, e_cpu = run("cpu")
assert s_dev.statuses == s_cpu.statuses, (s_dev.statuses, s_cpu.statuses)
assert set(e_dev) == set(e_cpu) and e_cpu
cos = min(float(e_dev[k] @ e_cpu[k]) for k in e_cpu)
print(f"device vs CPU decode: {len(e_cpu)} embeddings, min cosine {cos:.5f}")
assert cos >= 0.999, cos
print("CUDA smoke run and decode equality: PASS")
PY
echo "gpu_check exit $rc" | tee -a "$OUT_DIR/gpu_check.log"
exit $rc
