"""The `editlens` console command: one subcommand per stage, plus `demo`.

Each subcommand only parses arguments and calls the stage's own entry point; the stages stay usable without it
(`dbt build`, `streamlit run dashboards/app.py`, `duckdb warehouse/editlens.duckdb`).
Exit codes: 0 success, 1 a stage failed, 2 unusable input (unknown format, missing path, bad arguments).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from editlens.contract.errors import EXIT_UNUSABLE_INPUT, UnusableInput
from editlens.contract.formats import FORMATS
from editlens.warehouse import ENV_VAR, Warehouse, job_lock

# commands that write to the warehouse: one at a time per warehouse (a second one waits, saying for what)
WRITING_COMMANDS = ("ingest", "embed", "predictions", "build")


def _add_warehouse(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warehouse",
        metavar="DIR",
        default=None,
        help=f"warehouse folder (default: ${ENV_VAR} or ./warehouse)",
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="editlens", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="generate the bundled shapes-world sample dataset (SEED-Data-Edit layout)")
    p.add_argument("dir", type=Path)
    p.add_argument("--edits", type=int, default=2000, help="number of edits (default 2000)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("ingest", help="read a dataset's metadata into canonical Parquet tables")
    p.add_argument("path", type=Path)
    p.add_argument(
        "--format",
        default=None,
        help="force a reader instead of auto-detection: " + ", ".join(FORMATS),
    )
    p.add_argument("--no-check-images", action="store_true", help="skip the image existence check")
    p.add_argument("--map", default=None, metavar="NAME=COL,...",
                   help="generic reader for any editing dataset in JSONL/JSON/Parquet: "
                        "source=COL,target=COL,instruction=COL[,mask=,source_caption=,target_caption=,session=,"
                        "turn=,labels=A+B,scores=A+B,dataset=NAME]")
    p.add_argument("--workers", type=int, default=None, help="parallel reader processes (default: cores)")
    p.add_argument("--image-root", type=Path, default=None, metavar="DIR",
                   help="folder the records' image paths are relative to (loose files, non-standard extractions)")
    _add_warehouse(p)

    p = sub.add_parser("embed", help="compute CLIP embeddings, image facts and edit scores")
    p.add_argument("--model", default="editlens-tiny", help="open_clip model name (default: bundled tiny model)")
    p.add_argument("--pretrained", default=None, help="open_clip pretrained tag or a local weights file")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--workers", type=int, default=None,
                   help="image decoding processes (CPU default 0: the streams decode; CUDA: cores, max 16)")
    p.add_argument("--streams", type=int, default=None,
                   help="CPU: batches decoded and embedded at once by threads (default: cores, max 8)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--shard-size", type=int, default=4096, help="images or texts per output shard")
    p.add_argument("--concepts", type=Path, default=None, metavar="FILE",
                   help="zero-shot concept prompts (default: embeddings/concepts.csv)")
    p.add_argument("--instruction-frames", type=Path, default=None, metavar="FILE",
                   help="framing phrases removed for directional_instruction_core "
                        "(default: embeddings/instruction_frames.csv)")
    p.add_argument("--decode", default="auto", choices=("auto", "cpu", "device"),
                   help="JPEG decode: on the model's device (nvJPEG on CUDA) or the CPU; auto: device when CUDA")
    p.add_argument("--detectors", default="", metavar="NAMES",
                   help="dedicated detectors on the same decoded images: nudenet, faces (opencv-haar-face) or all; "
                        "needs pip install 'editlens[detectors]'")
    p.add_argument("--rescore-edits", action="store_true",
                   help="recompute this model's edit scores from stored embeddings (after editing the frames file)")
    p.add_argument("--projection", choices=("pca", "umap"), default="pca",
                   help="the edit map's 2-D projection (umap needs pip install umap-learn)")
    p.add_argument("--max-image-pixels", type=int, default=None, help="larger images get status too_large")
    p.add_argument("--dino-weights", type=Path, default=None, metavar="FILE",
                   help="local DINO ViT-S/16 weights (dino_deitsmall16_pretrain.pth): DINO scores of model outputs")
    p.add_argument("--threads", type=int, default=None, help="torch threads per stream (CPU)")
    p.add_argument("--ray-actors", type=int, default=None, help="Ray backend: number of model actors")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_warehouse(p)

    p = sub.add_parser("predictions", help="register one editing model's outputs for an ingested benchmark")
    p.add_argument("model_name", metavar="MODEL_NAME", help="the editing model's name (as shown in the marts)")
    p.add_argument("dir", type=Path, metavar="DIR", help="the outputs: a folder, an Emu Edit Parquet or a mapping file")
    p.add_argument("--benchmark", required=True, metavar="B",
                   help="the benchmark's dataset name in the warehouse: magicbrush, emu-edit, imgedit, ...")
    p.add_argument("--layout", default=None, choices=["magicbrush", "emu-edit", "imgedit", "mapping"],
                   help="the outputs' layout (default: detected)")
    p.add_argument("--split", default=None, help="benchmark split (default: test where there is one, else all)")
    p.add_argument("--part", default=None, help="only this part of the benchmark's dataset (e.g. held-out edits)")
    _add_warehouse(p)

    p = sub.add_parser("build", help="run `dbt build` on the warehouse and export the marts")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra arguments passed to dbt build")
    _add_warehouse(p)

    p = sub.add_parser("export", help="write the edits that pass a policy file, with a data card")
    p.add_argument("out", type=Path, metavar="OUT", help="output folder (replaced atomically if an earlier export)")
    p.add_argument("--policy", type=Path, required=True, metavar="FILE",
                   help="policy YAML, or the name of one saved under DIR/policies/")
    p.add_argument("--format", required=True, help="seed, parquet or manifest")
    p.add_argument("--images", default="copy", help="copy (SEED: hard links where possible; Parquet: embedded "
                   "bytes) or reference (SEED: annotations only; Parquet: the images' locations)")
    _add_warehouse(p)

    p = sub.add_parser("dashboard", help="serve the Streamlit dashboards on localhost")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    _add_warehouse(p)

    p = sub.add_parser("demo", help="sample -> ingest -> embed -> build, then serve the dashboards")
    p.add_argument("--no-serve", action="store_true", help="stop after the build")
    p.add_argument("--edits", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-dir", type=Path, default=None, help="where to write the sample (default DIR/sample)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--device", default="cpu")
    _add_warehouse(p)
    return ap


def _run(args: argparse.Namespace) -> int:
    wh = Warehouse.at(getattr(args, "warehouse", None))
    if args.command == "sample":
        from editlens.sample import generate

        summary = generate(args.dir, n_edits=args.edits, seed=args.seed)
        print(summary.describe())
        return 0
    if args.command == "ingest":
        from editlens.ingest.main import IngestConfig, run_ingest
        from editlens.ingest.readers.mapped import parse_map

        cfg = IngestConfig(
            path=args.path,
            warehouse=wh,
            format=args.format,
            check_images=not args.no_check_images,
            workers=args.workers,
            column_map=parse_map(args.map) if args.map is not None else None,
            image_root=args.image_root,
            on_found=lambda s: print("\n".join(s.found), flush=True),
        )
        summary = run_ingest(cfg)
        print(summary.describe())
        return summary.exit_code
    if args.command == "embed":
        from editlens.embeddings.main import EmbedConfig, run_embed

        cfg = EmbedConfig(
            warehouse=wh,
            model=args.model,
            pretrained=args.pretrained,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
            backend=args.backend,
            shard_size=args.shard_size,
            concepts_file=args.concepts,
            frames_file=args.instruction_frames,
            rescore_edits=args.rescore_edits,
            projection=args.projection,
            detectors=tuple(n for n in args.detectors.split(",") if n.strip()),
            decode=args.decode,
            threads=args.threads,
            dino_weights=args.dino_weights,
            streams=args.streams,
            ray_actors=args.ray_actors,
            progress=not args.no_progress,
            **({"max_image_pixels": args.max_image_pixels} if args.max_image_pixels else {}),
        )
        summary = run_embed(cfg)
        print(summary.describe())
        return 0
    if args.command == "predictions":
        from editlens.ingest.predictions import PredictionsConfig, run_predictions

        summary = run_predictions(PredictionsConfig(warehouse=wh, model_name=args.model_name, path=args.dir,
                                                    benchmark=args.benchmark, layout=args.layout,
                                                    split=args.split, part=args.part))
        print(summary.describe())
        return 0
    if args.command == "build":
        from editlens.build import run_build

        extra = [a for a in args.dbt_args if a != "--"]
        return run_build(wh, extra)
    if args.command == "export":
        from editlens.export.main import ExportConfig, run_export

        summary = run_export(ExportConfig(warehouse=wh, policy=args.policy, format=args.format, out=args.out,
                                          images=args.images))
        print(summary.describe())
        return 0
    if args.command == "dashboard":
        from editlens.dashboards.serve import serve

        return serve(wh, host=args.host, port=args.port)
    if args.command == "demo":
        from editlens.demo import DemoConfig, run_demo

        return run_demo(
            DemoConfig(
                warehouse=wh,
                sample_dir=args.sample_dir,
                n_edits=args.edits,
                seed=args.seed,
                serve=not args.no_serve,
                port=args.port,
                device=args.device,
            )
        )
    raise UnusableInput(f"unknown command {args.command}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in WRITING_COMMANDS:
            with job_lock(Warehouse.at(getattr(args, "warehouse", None)), args.command):
                return _run(args)
        return _run(args)
    except UnusableInput as exc:
        print(f"editlens {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if argv is None and args.command == "ingest":
            # the process ends now: its objects need no collection pass while the interpreter tears down (it
            # walks every live object once per module it clears, ~0.2 s after an ingest); nothing of an
            # ingest's needs finalizing (the pool is joined, the files synced)
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
