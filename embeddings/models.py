"""Model loading: any open_clip model name + pretrained tag, a local weights file, or the bundled editlens-tiny.

Never a silent random model: a failed download, a missing weights file or an unknown name raises
`UnusableInput` (exit code 2). Random weights only with ``allow_random_weights=True`` (tests, speed bench);
they are recorded as ``pretrained = "random-init:seed0"``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editlens.contract.errors import UnusableInput
from editlens.embeddings.imageio import Preprocess

TINY_NAME = "editlens-tiny"
RANDOM_TAG = "random-init:seed0"
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_key(name: str, pretrained: str | None, weights_sha256: str | None, preprocess: str) -> str:
    """16 hex of sha1(name | pretrained tag or weights sha256 | preprocessing)."""
    ident = weights_sha256 or pretrained or ""
    return hashlib.sha1(f"{name}|{ident}|{preprocess}".encode()).hexdigest()[:16]


@dataclass
class ModelSpec:
    """What identifies a loaded model in every output row (picklable; no tensors)."""

    name: str
    pretrained: str | None
    weights_sha256: str | None
    preprocess: Preprocess
    embed_dim: int
    logit_scale: float

    @property
    def preprocess_str(self) -> str:
        return self.preprocess.describe()

    @property
    def key(self) -> str:
        return model_key(self.name, self.pretrained, self.weights_sha256, self.preprocess_str)


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    weights_path: str | None = None


def register_config(name: str, config: dict | str | Path) -> None:
    """Register an open_clip architecture config (a dict or a JSON file) under `name` (idempotent)."""
    import json
    import tempfile

    import open_clip

    if name in open_clip.list_models():
        return
    if isinstance(config, dict):
        with tempfile.TemporaryDirectory() as td:
            p = Path(td) / f"{name}.json"
            p.write_text(json.dumps(config))
            open_clip.add_model_config(p)
    else:
        open_clip.add_model_config(Path(config))


def _tiny_resize_mode() -> str:
    from editlens.embeddings import tiny

    return tiny.RESIZE_MODE


def _register_tiny() -> Path | None:
    try:
        from editlens.embeddings import tiny
    except ImportError:
        return None
    if Path(tiny.CONFIG_PATH).is_file():
        tiny.register()
        return Path(tiny.WEIGHTS_PATH)
    return None


def _first_line(exc: BaseException) -> str:
    s = str(exc).strip().splitlines()
    return (s[0] if s else type(exc).__name__)[:300]


@contextlib.contextmanager
def _quiet_open_clip():
    """open_clip logs 'Model initialized randomly' warnings we handle ourselves."""
    lg = logging.getLogger()
    old = lg.level
    lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lg.setLevel(old)


def load_model(name: str = TINY_NAME, pretrained: str | None = None, device: str = "cpu",
               allow_random_weights: bool = False, cache_dir: str | None = None,
               jpeg_draft: bool = True) -> LoadedModel:
    import open_clip
    import torch

    tiny_weights = _register_tiny()
    if name not in open_clip.list_models():
        raise UnusableInput(f"unknown model {name!r} (open_clip knows {len(open_clip.list_models())} names; "
                              f"see open_clip.list_models())")

    weights_path: str | None = None
    tag: str | None = pretrained
    if pretrained is None and name == TINY_NAME:
        if tiny_weights is not None and tiny_weights.is_file():
            weights_path = str(tiny_weights)
        elif not allow_random_weights:
            raise UnusableInput(
                f"editlens-tiny weights not found at {tiny_weights}; train them (python -m training.tiny.train) "
                "or choose --model NAME --pretrained TAG|FILE")
    elif pretrained is not None and (Path(pretrained).suffix in WEIGHT_SUFFIXES or Path(pretrained).exists()):
        if not Path(pretrained).is_file():
            raise UnusableInput(f"weights file not found: {pretrained}")
        weights_path = str(Path(pretrained).resolve())
    elif pretrained is None and not allow_random_weights:
        raise UnusableInput(f"model {name!r} needs --pretrained TAG or a weights file "
                              f"(tags: {', '.join(open_clip.list_pretrained_tags_by_model(name)[:6]) or 'none'})")

    weights_sha = file_sha256(weights_path) if weights_path else None
    try:
        with _quiet_open_clip():
            if weights_path is None and pretrained is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = open_clip.create_model(name, pretrained=None, device="cpu")
                tag = RANDOM_TAG
            elif weights_path is not None:
                model = open_clip.create_model(name, pretrained=None, device="cpu")
                open_clip.load_checkpoint(model, weights_path)
                tag = Path(weights_path).name
            else:
                model = open_clip.create_model(name, pretrained=pretrained, device="cpu", cache_dir=cache_dir)
    except UnusableInput:
        raise
    except Exception as exc:  # noqa: BLE001 - download failure offline, bad checkpoint, unknown tag
        raise UnusableInput(f"cannot load {name} pretrained={pretrained}: {_first_line(exc)}") from None

    model.eval().to(device)
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size", 224)
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    pp = Preprocess(
        size=size,
        mean=tuple(float(x) for x in cfg.get("mean", Preprocess.mean)),
        std=tuple(float(x) for x in cfg.get("std", Preprocess.std)),
        interpolation=str(cfg.get("interpolation", "bicubic")),
        # editlens-tiny was trained on whole pictures squashed to its input size (training/tiny/TRAINING.md)
        resize_mode=_tiny_resize_mode() if name == TINY_NAME else str(cfg.get("resize_mode", "shortest")),
        fill_color=int(cfg.get("fill_color", 0) or 0),
        jpeg_draft=jpeg_draft,
    )
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = open_clip.get_tokenizer(name)
    embed_dim = int(getattr(model, "embed_dim", 0) or model.text_projection.shape[-1]) if hasattr(model, "text_projection") and model.text_projection is not None else None
    if not embed_dim:
        with torch.inference_mode():
            embed_dim = int(model.encode_text(tokenizer(["a"]).to(device)).shape[-1])
    scale = float(model.logit_scale.exp().item()) if getattr(model, "logit_scale", None) is not None else 100.0
    spec = ModelSpec(name=name, pretrained=tag, weights_sha256=weights_sha, preprocess=pp, embed_dim=embed_dim,
                     logit_scale=scale)
    return LoadedModel(spec=spec, model=model, tokenizer=tokenizer, weights_path=weights_path)
