"""Embedding speed: end-to-end images/s (JPEG files -> facts + embeddings -> Parquet) against the model's
forward-only images/s, both measured in the same run on the same device, threads and batch size (forward-only
runs sit before and after every end-to-end run, because the load of a shared machine drifts; the reported ratio
is the median over rounds).

    .venv/bin/python bench/bench_embed.py                                  # CPU, bundled tiny model (random OK)
    .venv/bin/python bench/bench_embed.py --device cuda --model ViT-B-32 --random-weights --n 40000
    .venv/bin/python bench/bench_embed.py --device cuda --model ViT-L-14 --random-weights --n 20000
    .venv/bin/python bench/bench_embed.py --memory-check --n 1000   # peak memory flat from n to 4n images

Targets (issue 4): CPU with the bundled model: end-to-end >= 0.8 x forward-only. One H100: ViT-B-32 >= 4,000
and ViT-L-14 >= 1,500 images/s end to end. Prints one line per measurement and a JSON summary; exits 1 when
the ratio target (or --min-e2e) is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from editlens.warehouse import Warehouse, atomic_write_table


def _render_range(args: tuple[str, int, int, int, int | None]) -> int:
    folder, start, stop, seed, image_size = args
    try:
        from editlens.sample import scenes, world
    except Exception:  # noqa: BLE001 - the sample generator is optional here
        scenes = world = None
    from tests.embed_warehouses import draw  # test helpers (not installed): run from the repo root

    for i in range(start, stop):
        if world is not None:
            img = world.render(scenes.random_scene(np.random.default_rng([seed, i]), size=image_size))
        else:
            img = draw(seed * 1_000_003 + i, size=image_size or 192)
        img.convert("RGB").save(Path(folder) / f"{i:07d}.jpg", "JPEG", quality=90)
    return stop - start


def make_dataset(root: Path, n: int, seed: int, image_size: int | None) -> Path:
    """`n` JPEGs of the shapes world (or plain drawings) rendered in parallel; cached by (n, seed, size)."""
    from multiprocessing import get_context

    data = root / f"jpegs-{n}-{seed}-{image_size or 'world'}"
    done = data / ".complete"
    if done.exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    (data / "img").mkdir(parents=True)
    step = 500
    jobs = [(str(data / "img"), a, min(n, a + step), seed, image_size) for a in range(0, n, step)]
    with get_context("fork").Pool(os.cpu_count() or 1) as pool:
        sum(pool.imap_unordered(_render_range, jobs))
    done.write_text("ok")
    return data


def make_warehouse(root: Path, data: Path, n: int) -> Warehouse:
    wh_root = root / "wh"
    shutil.rmtree(wh_root, ignore_errors=True)
    wh = Warehouse.at(wh_root).ensure()
    ids = [f"{i:016x}" for i in range(n)]
    images = pa.table({
        "image_id": ids, "dataset": ["bench"] * n, "part": ["bench"] * n, "location_kind": ["file"] * n,
        "root": [str(data)] * n, "path": [f"img/{i:07d}.jpg" for i in range(n)],
        "row_group": pa.nulls(n, pa.int32()), "row": pa.nulls(n, pa.int64()), "column": pa.nulls(n, pa.string()),
        "exists": [True] * n})
    m = n // 2
    edits = pa.table({
        "edit_id": [f"e{i:015x}" for i in range(m)], "dataset": ["bench"] * m, "part": ["bench"] * m,
        "split": ["train"] * m, "session_id": pa.nulls(m, pa.string()), "turn_index": pa.array([1] * m, pa.int32()),
        "source_image_id": ids[0::2][:m], "target_image_id": ids[1::2][:m], "mask_image_id": pa.nulls(m, pa.string()),
        "instruction": [f"make shape {i % 97} a different colour" for i in range(m)],
        "source_caption": [f"a picture of shape {i % 89}" for i in range(m)],
        "target_caption": [f"a picture of shape {i % 83}" for i in range(m)]})
    atomic_write_table(images, wh.shard_path("images", "bench"))
    atomic_write_table(edits, wh.shard_path("edits", "bench"))
    return wh


def forward_only(encoder, data: Path, n: int, batch_size: int, streams: int = 1) -> tuple[float, float]:
    """Model images/s on pre-decoded uint8 batches already in host memory (device memory on CUDA), with
    `streams` batches in flight at once (threads of this process, as the job's CPU streams run them)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from editlens.embeddings.imageio import process_batch

    pp = encoder.loaded.spec.preprocess
    files = sorted((data / "img").glob("*.jpg"))[: min(n, 256)]
    pix = process_batch([{"image_id": "x", "root": str(f.parent), "path": f.name} for f in files], pp).pixels
    reps = -(-batch_size // len(pix))
    batch = torch.from_numpy(np.concatenate([pix] * reps)[:batch_size])
    if encoder.settings.device.startswith("cuda"):
        batch = batch.to(encoder.settings.device)
    n_batches = max(2, -(-n // batch_size))
    n_batches = -(-n_batches // streams) * streams
    sync = torch.cuda.synchronize if encoder.settings.device.startswith("cuda") else (lambda: None)
    with ThreadPoolExecutor(streams) as pool:
        list(pool.map(lambda _: encoder.images(batch), range(2 * streams)))  # warm-up
        sync()
        t, c = time.perf_counter(), time.process_time()
        list(pool.map(lambda _: encoder.images(batch), range(n_batches)))
        sync()
        dt, dc = time.perf_counter() - t, time.process_time() - c
    images = n_batches * batch_size
    return images / dt, dc / images


MEMORY_RUNNER = r"""
import json, resource, sys
from pathlib import Path
from editlens.warehouse import Warehouse
from editlens.embeddings.main import EmbedConfig, run_embed
root, shard = sys.argv[1], int(sys.argv[2])
s = run_embed(EmbedConfig(warehouse=Warehouse(Path(root)), allow_random_weights=True, shard_size=shard,
                          edit_shard_size=shard, progress=False))
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"images": s.images_planned, "edits": s.edits_scored, "main_peak_mb": me.ru_maxrss / 1024,
                  "worker_peak_mb": kids.ru_maxrss / 1024}))
"""


def memory_check(args) -> int:
    """Peak memory of the whole job (main process and decode workers) on n and 4n images with the same shard
    size: it must stay flat (<= 1.25x) as the dataset grows."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    shard = args.shard_size or 500
    peaks = []
    for n in (args.n, 4 * args.n):
        data = make_dataset(args.out, n, args.seed, args.image_size)
        wh = make_warehouse(args.out / f"mem-{n}", data, n)
        out = subprocess.run([sys.executable, "-c", MEMORY_RUNNER, str(wh.root), str(shard)], cwd=repo,
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(r)
        print(f"{n} images, {r['edits']} edits, shard size {shard}: peak RSS main {r['main_peak_mb']:.0f} MB, "
              f"largest child process {r['worker_peak_mb']:.0f} MB (decode workers when asked for; otherwise "
              f"a fork made while importing torch)", flush=True)
    growth = peaks[1]["main_peak_mb"] / peaks[0]["main_peak_mb"]
    print(f"main-process peak grows {growth:.2f}x for 4x the images", flush=True)
    print(json.dumps({"memory_check": peaks, "growth": round(growth, 3)}), flush=True)
    ok = growth <= 1.25
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="images (default 2000)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="editlens-tiny")
    ap.add_argument("--pretrained", default=None)
    ap.add_argument("--random-weights", action="store_true", help="allow random weights (speed only)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None, help="decode worker processes (default: the job's)")
    ap.add_argument("--streams", type=int, default=None, help="CPU streams (default: the job's)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per stream (default: the job's)")
    ap.add_argument("--shard-size", type=int, default=None, help="images per shard (default: n / 4)")
    ap.add_argument("--image-size", type=int, default=None, help="square JPEG side (default: world's 128-256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="end-to-end runs, each between two forward-only runs")
    ap.add_argument("--out", type=Path, default=Path("bench/out/embed"))
    ap.add_argument("--min-ratio", type=float, default=None, help="fail below this e2e/forward ratio "
                                                                     "(default 0.8 on CPU, none on CUDA)")
    ap.add_argument("--min-e2e", type=float, default=None, help="fail below this many end-to-end images/s")
    ap.add_argument("--decode", default="auto", choices=("auto", "cpu", "device"),
                    help="JPEG decode of the end-to-end runs: auto (device on CUDA), cpu, device (nvJPEG on CUDA)")
    ap.add_argument("--memory-check", action="store_true",
                    help="instead: peak memory of the whole job on n and 4n images (must stay flat)")
    ap.add_argument("--record", action="store_true",
                    help="write the figures to bench/results/embed.json (then `python bench/results.py` renders RESULTS.md)")
    args = ap.parse_args(argv)
    if args.memory_check:
        args.out.mkdir(parents=True, exist_ok=True)
        return memory_check(args)

    import torch

    from editlens.embeddings.encoder import Encoder, default_batch_size, device_settings
    from editlens.embeddings.main import EmbedConfig, local_layout, run_embed
    from editlens.embeddings.models import load_model

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = make_dataset(out, args.n, args.seed, args.image_size)
    print(f"dataset: {args.n} JPEGs under {data} ({time.perf_counter() - t0:.1f} s)", flush=True)
    settings = device_settings(args.device)
    bs = args.batch_size or default_batch_size(settings.device)
    loaded = load_model(args.model, args.pretrained, device=settings.device, allow_random_weights=args.random_weights)
    encoder = Encoder(loaded, settings)
    cpus = os.cpu_count() or 1
    lay = local_layout(settings.device, cpus, args.workers, args.streams, args.threads)
    default_threads = torch.get_num_threads()
    # the baseline is the model's best forward-only speed over the ways to use the cores: one torch thread, all
    # cores in one stream, one stream per core, and the job's own layout (streams x threads per stream)
    if settings.device == "cpu":
        options = sorted({(1, 1), (cpus, 1), (1, cpus), (lay.threads or default_threads, lay.streams)})
    else:
        options = [(lay.threads or default_threads, 1)]

    def best_forward() -> tuple[float, tuple[int, int]]:
        best = (0.0, (0, 0), 0.0)
        for th, st in options:
            torch.set_num_threads(th)
            ips, cpu = forward_only(encoder, data, args.n, bs, st)
            best = max(best, (ips, (th, st), cpu))
        torch.set_num_threads(default_threads)
        fwd_cpu.append(best[2])
        return best[:2]

    def cpu_seconds() -> float:
        import resource

        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    fwd_cpu: list[float] = []
    e2e_cpu: list[float] = []

    # rounds of F E F E ... F: each end-to-end run is compared with the forward-only runs either side of it
    # (a shared machine's load drifts); the reported ratio is the median over rounds
    fwds, e2es, summaries = [], [], []
    f, th = best_forward()
    fwds.append(f)
    loads = [round(os.getloadavg()[0], 2)]
    print(f"forward-only: {f:,.0f} images/s ({args.model}, batch {bs}, {settings.device}, best of (torch threads, "
          f"streams) {options}: {th}; load average {os.getloadavg()[0]:.2f})", flush=True)
    for r in range(args.rounds):
        wh = make_warehouse(out, data, args.n)
        cfg = EmbedConfig(warehouse=wh, model=args.model, pretrained=args.pretrained, device=args.device,
                          batch_size=bs, workers=args.workers, streams=args.streams,
                          allow_random_weights=args.random_weights, threads=args.threads,
                          shard_size=args.shard_size or max(bs, args.n // 4), progress=False, images_only=True,
                          decode=args.decode)
        c0 = cpu_seconds()
        s = run_embed(cfg)
        e2e_cpu.append((cpu_seconds() - c0) / max(1, s.images_planned))
        e2es.append(s.images_per_second)
        loads.append(round(os.getloadavg()[0], 2))
        summaries.append(s)
        print(f"end-to-end:   {s.images_per_second:,.0f} images/s ({s.images_planned} JPEGs -> image_facts + "
              f"image_embeddings in {s.image_seconds:.2f} s incl. planning and worker start-up; {s.workers} decode "
              f"workers, {s.streams} streams x {s.torch_threads} torch threads; {1e3 * e2e_cpu[-1]:.2f} CPU ms/image; "
              f"load average {os.getloadavg()[0]:.2f})", flush=True)
        f, th = best_forward()
        fwds.append(f)
        loads.append(round(os.getloadavg()[0], 2))
        print(f"forward-only: {f:,.0f} images/s ((torch threads, streams) {th}; {1e3 * fwd_cpu[-1]:.2f} CPU "
              f"ms/image; load average {os.getloadavg()[0]:.2f})", flush=True)
    ratios = [e / ((fwds[i] + fwds[i + 1]) / 2) for i, e in enumerate(e2es)]
    ratio = float(np.median(ratios))
    fwd = float(np.median(fwds))
    e2e = float(np.median(e2es))
    cpu_ratio = float(np.median(fwd_cpu)) / float(np.median(e2e_cpu)) if e2e_cpu else 0.0
    print(f"ratio end-to-end / forward-only per round: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {ratio:.2f}", flush=True)
    print(f"CPU time per image: forward-only {1e3 * float(np.median(fwd_cpu)):.2f} ms, end-to-end "
          f"{1e3 * float(np.median(e2e_cpu)):.2f} ms (all processes); forward share {cpu_ratio:.2f}", flush=True)
    t = time.perf_counter()
    s = run_embed(EmbedConfig(warehouse=wh, model=args.model, pretrained=args.pretrained, device=args.device,
                              batch_size=bs, workers=args.workers, streams=args.streams,
                              allow_random_weights=args.random_weights, threads=args.threads, progress=False,
                              decode=args.decode))
    print(f"rest of the job on the last warehouse ({s.texts_embedded} texts, {s.concept_rows} concept rows, "
          f"{s.edits_scored} edits): {time.perf_counter() - t:.1f} s", flush=True)
    result = {
        "model": args.model, "device": settings.device, "decode": args.decode, "n": args.n, "batch_size": bs,
        "workers": s.workers, "streams": s.streams, "job_torch_threads": s.torch_threads, "cpus": os.cpu_count(),
        "forward_options": options, "load_average": os.getloadavg()[0], "load_averages": loads,
        "forward_only_ips": round(fwd, 1), "forward_only_runs": [round(x, 1) for x in fwds],
        "end_to_end_runs": [round(x, 1) for x in e2es], "ratios": [round(x, 3) for x in ratios], "end_to_end_ips": round(e2e, 1), "ratio": round(ratio, 3),
        "rest_of_job_seconds": round(s.seconds, 2), "cpu_ms_per_image_forward": round(1e3 * float(np.median(fwd_cpu)), 3),
        "cpu_ms_per_image_end_to_end": round(1e3 * float(np.median(e2e_cpu)), 3), "forward_cpu_share": round(cpu_ratio, 3), "machine": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name(0) if settings.device.startswith("cuda") else None,
    }
    print(json.dumps(result), flush=True)
    (out / f"result-{args.model}-{settings.device.replace(':', '')}-{args.decode}.json").write_text(
        json.dumps(result, indent=1))
    min_ratio = args.min_ratio if args.min_ratio is not None else (None if settings.device.startswith("cuda") else 0.8)
    ok = (min_ratio is None or ratio >= min_ratio) and (args.min_e2e is None or e2e >= args.min_e2e)
    print("PASS" if ok else "FAIL", flush=True)
    if args.record:
        from bench.results import record

        record("embed-gpu" if settings.device.startswith("cuda") else "embed",
               stage=f"embed ({settings.device})", measured=f"{args.n} shapes-world JPEGs -> image_facts + "
               f"image_embeddings with {args.model} against the model's forward-only speed at the same batch",
               result=f"{e2e:.0f} vs {fwd:.0f} images/s forward-only; per-round ratios "
                      f"{', '.join(f'{x:.2f}' for x in ratios)}, median {ratio:.2f}",
               target=f">= {min_ratio}x the forward-only baseline" if min_ratio else "see --min-e2e",
               met="yes" if ok else "no", figures=result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
