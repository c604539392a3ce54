"""`editlens demo`: the whole pipeline on the bundled sample, stage by stage, with progress output."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from editlens.warehouse import Warehouse, job_lock


@dataclass(frozen=True)
class DemoConfig:
    warehouse: Warehouse
    sample_dir: Path | None = None
    n_edits: int = 2000
    seed: int = 0
    serve: bool = True
    port: int = 8501
    device: str = "cpu"

    @property
    def sample_path(self) -> Path:
        return Path(self.sample_dir) if self.sample_dir else self.warehouse.root / "sample"


def _stage(n: int, total: int, title: str, fn: Callable[[], object]) -> object:
    print(f"[{n}/{total}] {title} ...", flush=True)
    t0 = time.perf_counter()
    result = fn()
    described = result.describe() if hasattr(result, "describe") else None
    if described:
        for line in str(described).splitlines():
            print(f"      {line}")
    print(f"[{n}/{total}] {title}: done in {time.perf_counter() - t0:.1f} s", flush=True)
    return result


def _demo_models(wh: Warehouse, cfg: DemoConfig):
    """The sample's held-out (Part-2) edits as two editing models' outputs, registered for the comparison page."""
    from editlens.ingest.predictions import PredictionsConfig, run_predictions
    from editlens.sample.predictions import HELD_OUT_PART, write_demo_outputs

    outs = write_demo_outputs(wh, wh.root / "demo-model-outputs", seed=cfg.seed)
    for line in outs.describe().splitlines():
        print(f"      {line}")
    for name, mapping in outs.mappings.items():
        s = run_predictions(PredictionsConfig(wh, name, mapping, "seed-data-edit", layout="mapping",
                                              part=HELD_OUT_PART))
        print(f"      {name}: {s.describe().splitlines()[1]}", flush=True)


def run_demo(cfg: DemoConfig) -> int:
    from editlens.build import run_build
    from editlens.embeddings.main import EmbedConfig, run_embed
    from editlens.ingest.main import IngestConfig, run_ingest
    from editlens.sample import generate

    wh = cfg.warehouse.ensure()
    total = 6 if cfg.serve else 5
    print(f"EditLens demo: warehouse {wh.root}, sample {cfg.sample_path}", flush=True)
    _stage(1, total, f"generate the shapes-world sample ({cfg.n_edits} edits, seed {cfg.seed})",
           lambda: generate(cfg.sample_path, n_edits=cfg.n_edits, seed=cfg.seed))
    def locked(command, fn):  # each writing stage waits for any other command on this warehouse
        def run():
            with job_lock(wh, f"demo ({command})"):
                return fn()
        return run

    _stage(2, total, "ingest", locked("ingest", lambda: run_ingest(IngestConfig(path=cfg.sample_path, warehouse=wh))))
    _stage(3, total, "two demo editing models on the held-out edits (targets with defects at two rates)",
           locked("predictions", lambda: _demo_models(wh, cfg)))
    _stage(4, total, "embed and score (bundled editlens-tiny model)",
           locked("embed", lambda: run_embed(EmbedConfig(warehouse=wh, device=cfg.device))))

    def build() -> None:
        rc = run_build(wh, [])
        if rc != 0:
            raise SystemExit(rc)

    _stage(5, total, "dbt build", locked("build", build))
    print(f"\nMarts: duckdb {wh.duckdb_path} -c \"select * from dataset_scorecard\"", flush=True)
    print(f"Exported marts: {wh.marts_dir}", flush=True)
    if not cfg.serve:
        return 0
    from editlens.dashboards.serve import serve

    print("[6/6] serving the dashboards (Ctrl-C to stop)", flush=True)
    return serve(wh, host="127.0.0.1", port=cfg.port)
