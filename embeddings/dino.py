"""DINO ViT-S/16 for the MagicBrush protocol's DINO score, from a local weights file only (the official
`dino_deitsmall16_pretrain.pth`, or a `.safetensors` file with the same keys). The architecture is timm's
`vit_small_patch16_224` (the same parameter names); the input is MagicBrush's evaluation transform: shorter side
to 256 (bicubic), centre crop 224, ImageNet mean / std; the embedding is the normalised CLS token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editlens.contract.errors import UnusableInput

RESIZE, CROP = 256, 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class Dino:
    model: Any
    device: str
    name: str  # `dino_vits16 <weights file name> <sha256[:16]>`

    def inputs(self, img: Image.Image) -> np.ndarray:
        """RGB image -> float32 (3, 224, 224): Resize(256, bicubic) + CenterCrop(224) + Normalize."""
        w, h = img.size
        s = RESIZE / min(w, h)
        nw, nh = (RESIZE, max(RESIZE, int(h * s))) if w <= h else (max(RESIZE, int(w * s)), RESIZE)
        r = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = int(round((nw - CROP) / 2.0)), int(round((nh - CROP) / 2.0))
        a = np.asarray(r.crop((left, top, left + CROP, top + CROP)), dtype=np.float32) / 255.0
        return ((a - np.array(MEAN, np.float32)) / np.array(STD, np.float32)).transpose(2, 0, 1).copy()

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        if not images:
            return np.zeros((0, 384), dtype=np.float32)
        x = torch.from_numpy(np.stack([self.inputs(i) for i in images])).to(self.device)
        with torch.inference_mode():
            e = torch.nn.functional.normalize(self.model(x).float(), dim=-1)
        return e.cpu().numpy()


def load_dino(weights: str | Path, device: str = "cpu") -> Dino:
    """DINO ViT-S/16 from a local file; unusable input (exit 2) when it is absent or not ViT-S/16 weights."""
    import timm
    import torch

    p = Path(weights).expanduser()
    if not p.is_file():
        raise UnusableInput(f"DINO weights {weights} not found (a local dino_deitsmall16_pretrain.pth)")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is unusable input
        raise UnusableInput(f"DINO weights {p.name}: cannot be read ({type(exc).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("teacher") or state.get("state_dict"), dict):
        state = state.get("teacher") or state["state_dict"]
    state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    missing, _unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise UnusableInput(f"DINO weights {p.name} are not ViT-S/16 weights: {len(missing)} parameters missing "
                            f"(e.g. {missing[0]})")
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    return Dino(model.to(device).eval(), device, f"dino_vits16 {p.name} {sha[:16]}")
