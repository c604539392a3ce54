"""The shapes world's renderer: `render(scene)` draws a scene with Pillow (background, shapes, global effects)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from editlens.sample.scenes import BG_COLORS, SHAPE_COLORS, SIZE_FRAC, Background, Scene

# --------------------------------------------------------------------------------------------------------------
# rendering


@lru_cache(maxsize=256)
def _bg_image(bg: Background, w: int, h: int) -> Image.Image:
    """The background alone (cached: source and target of an edit mostly share it; callers copy it)."""
    c1 = BG_COLORS[bg.c1]
    if bg.kind == "solid":
        return Image.new("RGB", (w, h), c1)
    a1 = np.array(c1, dtype=np.float32)
    a2 = np.array(BG_COLORS[bg.c2], dtype=np.float32)
    if bg.kind == "gradient":
        t = (np.arange(h, dtype=np.float32) / max(h - 1, 1))[:, None]
        col = (a1 * (1 - t) + a2 * t).astype(np.uint8)  # (h, 3)
        return Image.fromarray(np.ascontiguousarray(np.broadcast_to(col[:, None, :], (h, w, 3))), "RGB")
    cell = max(8, min(w, h) // 8)
    yy = np.arange(h)[:, None]
    xx = np.arange(w)[None, :]
    if bg.kind == "stripes":
        m = ((xx + yy) // cell) % 2 == 1
    elif bg.kind == "checker":
        m = ((xx // cell) + (yy // cell)) % 2 == 1
    else:  # dots
        cx = (xx % cell) - cell / 2
        cy = (yy % cell) - cell / 2
        m = cx * cx + cy * cy < (cell * 0.22) ** 2
    out = np.where(m[..., None], a2.astype(np.uint8), a1.astype(np.uint8))
    return Image.fromarray(np.ascontiguousarray(out, dtype=np.uint8), "RGB")


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if kind == "square":
        pts = [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
    elif kind == "triangle":
        pts = [(0.0, -1.0), (0.95, 0.75), (-0.95, 0.75)]
    elif kind == "diamond":
        pts = [(0.0, -1.0), (0.7, 0.0), (0.0, 1.0), (-0.7, 0.0)]
    elif kind in ("hexagon", "pentagon"):
        k = 6 if kind == "hexagon" else 5
        pts = [(math.sin(2 * math.pi * i / k), -math.cos(2 * math.pi * i / k)) for i in range(k)]
    elif kind == "star":
        pts = []
        for i in range(10):
            rr = 1.0 if i % 2 == 0 else 0.42
            a = math.pi * i / 5
            pts.append((rr * math.sin(a), -rr * math.cos(a)))
    elif kind == "heart":
        pts = []
        for i in range(36):
            t = 2 * math.pi * i / 36
            px = 16 * math.sin(t) ** 3
            py = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((px / 17.0, -py / 17.0 + 0.1))
    elif kind == "arrow":
        pts = [(-1.0, -0.3), (0.2, -0.3), (0.2, -0.7), (1.0, 0.0), (0.2, 0.7), (0.2, 0.3), (-1.0, 0.3)]
    else:
        raise ValueError(kind)
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + r * (px * ca - py * sa), cy + r * (px * sa + py * ca)) for px, py in pts]


_BRIGHTEN_LUT = [int(round(v + (255 - v) * 0.45)) for v in range(256)]


def _apply_effect(img: Image.Image, op: str, param: str) -> Image.Image:
    if op == "brightness":
        if param == "up":  # lift toward white without clipping, so later edits stay visible
            return img.point(_BRIGHTEN_LUT * 3)
        return ImageEnhance.Brightness(img).enhance(0.5)
    if op == "contrast":
        return ImageEnhance.Contrast(img).enhance(1.6 if param == "up" else 0.35)
    if op == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=max(2.5, min(img.size) / 40)))
    if param == "posterize":
        return ImageOps.posterize(img, 2)
    if param == "edges":
        return ImageOps.invert(img.filter(ImageFilter.FIND_EDGES).convert("L")).convert("RGB")
    if param == "cartoon":
        poster = ImageOps.posterize(img.filter(ImageFilter.SMOOTH_MORE), 3)
        edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 0 if v > 40 else 255)
        edges = edges.filter(ImageFilter.MinFilter(3))
        return Image.composite(poster, Image.new("RGB", img.size, (0, 0, 0)), edges)
    if param == "pixelate":
        w, h = img.size
        block = max(6, min(w, h) // 16)
        small = img.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BILINEAR)
        return small.resize((w, h), Image.Resampling.NEAREST)
    if param == "emboss":
        return img.filter(ImageFilter.EMBOSS)
    raise ValueError((op, param))


def render(scene: Scene) -> Image.Image:
    w, h = scene.width, scene.height
    img = _bg_image(scene.background, w, h).copy()
    draw = ImageDraw.Draw(img)
    m = min(w, h)
    for s in scene.shapes:
        cx, cy, r = s.x * w, s.y * h, SIZE_FRAC[s.size] * m
        fill = SHAPE_COLORS[s.color]
        if s.kind == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        elif s.kind == "oval":
            draw.ellipse([cx - r, cy - 0.62 * r, cx + r, cy + 0.62 * r], fill=fill)
        else:
            draw.polygon(_polygon(s.kind, cx, cy, r, s.angle), fill=fill)
    for op, param in scene.effects:
        img = _apply_effect(img, op, param)
    return img
