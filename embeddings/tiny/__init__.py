"""`editlens-tiny`: the bundled default CLIP model, trained on the procedurally generated shapes world.

It is a real open_clip model (architecture config `editlens-tiny.json`, fp16 safetensors weights), so the
embedding job loads it exactly like any other open_clip model:

    from editlens.embeddings import tiny
    tiny.register()
    model, _, preprocess = open_clip.create_model_and_transforms(
        tiny.MODEL_NAME, pretrained=str(tiny.WEIGHTS_PATH), image_resize_mode=tiny.RESIZE_MODE)
    tokenizer = open_clip.get_tokenizer(tiny.MODEL_NAME)

Preprocessing is open_clip's own eval transform for this config with resize_mode "squash" (bicubic resize of
the whole picture to 64x64, OpenAI CLIP mean/std): the same transform the training script uses. Pass
`image_resize_mode=RESIZE_MODE` (open_clip's default centre crop would cut off the edges of non-square
pictures). `training/tiny/TRAINING.md` has the exact command and seed that produced the weights.
"""
from __future__ import annotations

from pathlib import Path

MODEL_NAME = "editlens-tiny"
PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_PATH = PACKAGE_DIR / "editlens-tiny.json"
WEIGHTS_PATH = PACKAGE_DIR / "editlens-tiny.safetensors"
# Human-readable description of the preprocessing (stored beside every score; see formats.md section 3).
RESIZE_MODE = "squash"  # pass as create_model_and_transforms(..., image_resize_mode=RESIZE_MODE)
PREPROCESS = "open_clip image_transform(64, resize_mode=squash): bicubic resize to 64x64, OpenAI mean/std"


def register() -> None:
    """Add the `editlens-tiny` architecture to open_clip's model registry (idempotent)."""
    import open_clip

    if MODEL_NAME not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_PATH)


def preprocess():
    """The eval image transform training and scoring share: open_clip's `image_transform` for this config's
    size with resize_mode "squash" (the whole picture, as InstructPix2Pix scores it; no centre crop, so edits
    near the border of non-square pictures stay visible) and open_clip's default OpenAI mean/std."""
    import open_clip

    register()
    size = open_clip.get_model_config(MODEL_NAME)["vision_cfg"]["image_size"]
    return open_clip.image_transform(size, is_train=False, resize_mode=RESIZE_MODE)


def load(weights_path: str | Path | None = None, device: str = "cpu", resize_mode: str = RESIZE_MODE):
    """Return (model in eval mode, eval preprocess, tokenizer) for the committed (or given) weights."""
    import open_clip

    register()
    path = Path(weights_path) if weights_path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise FileNotFoundError(f"editlens-tiny weights not found: {path}")
    model, _, preprocess = open_clip.create_model_and_transforms(
        MODEL_NAME, pretrained=str(path), device=device, image_resize_mode=resize_mode)
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(MODEL_NAME)
