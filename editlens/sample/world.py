"""The procedural "shapes world": scenes of coloured shapes, real edits of them, and texts describing both.

A `Scene` is a background plus 1-4 shapes (each with a unique colour+kind, so "the red circle" always names one
shape) and a list of global effects. `render(scene)` draws it with Pillow. An `Edit` turns one scene into
another; `instruction(edit, rng)` phrases it (many templates per operation, imperative and descriptive),
`caption(scene)` describes a scene ("a small red circle on the left and a blue star on a mint background").

Vocabulary rule: normal templates never contain a demographic group term (person, man, woman, old, young, ...)
nor an unsafe term (weapons, violence, drugs, ...). Colour names avoid black/white/brown, which double as
demographic words. The defect injector in `editlens.sample.generate` adds such terms on purpose, and only there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

# --------------------------------------------------------------------------------------------------------------
# vocabulary

SHAPE_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 40),
    "orange": (245, 130, 20),
    "yellow": (245, 215, 30),
    "green": (40, 170, 60),
    "blue": (30, 80, 220),
    "purple": (130, 50, 180),
    "pink": (240, 110, 180),
    "cyan": (30, 200, 220),
}
BG_COLORS: dict[str, tuple[int, int, int]] = {
    "mint": (190, 240, 205),
    "lavender": (215, 200, 245),
    "peach": (255, 210, 180),
    "cream": (250, 245, 215),
    "sky blue": (160, 210, 245),
    "navy": (25, 35, 90),
    "beige": (225, 210, 180),
    "light gray": (205, 205, 205),
    "charcoal": (55, 55, 60),
    "olive": (110, 115, 45),
}
SHAPE_KINDS = (
    "circle",
    "square",
    "triangle",
    "star",
    "heart",
    "diamond",
    "hexagon",
    "pentagon",
    "oval",
    "arrow",
)
KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "circle", "disc", "round dot"),
    "square": ("square", "square", "box"),
    "triangle": ("triangle",),
    "star": ("star",),
    "heart": ("heart",),
    "diamond": ("diamond", "diamond", "rhombus"),
    "hexagon": ("hexagon",),
    "pentagon": ("pentagon",),
    "oval": ("oval", "oval", "ellipse"),
    "arrow": ("arrow",),
}
COLOR_SYNONYMS: dict[str, tuple[str, ...]] = {"purple": ("purple", "purple", "violet")}
_FAMILY = {
    "circle": "round",
    "oval": "round",
    "hexagon": "round",
    "pentagon": "round",
    "square": "angular",
    "diamond": "angular",
    "triangle": "angular",
    "star": "spiky",
    "heart": "spiky",
    "arrow": "spiky",
}
SIZE_WORDS = {0: "small", 1: "", 2: "large"}
SIZE_FRAC = {0: 0.10, 1: 0.15, 2: 0.21}

# Chinese renderings (for Part-2 `instruction_cn`)
CN_COLOR = {
    "red": "红色",
    "orange": "橙色",
    "yellow": "黄色",
    "green": "绿色",
    "blue": "蓝色",
    "purple": "紫色",
    "pink": "粉色",
    "cyan": "青色",
    "mint": "薄荷绿",
    "lavender": "淡紫色",
    "peach": "桃色",
    "cream": "奶油色",
    "sky blue": "天蓝色",
    "navy": "藏青色",
    "beige": "米色",
    "light gray": "浅灰色",
    "charcoal": "炭灰色",
    "olive": "橄榄绿",
}
CN_KIND = {
    "circle": "圆形",
    "square": "正方形",
    "triangle": "三角形",
    "star": "星形",
    "heart": "心形",
    "diamond": "菱形",
    "hexagon": "六边形",
    "pentagon": "五边形",
    "oval": "椭圆",
    "arrow": "箭头",
}
CN_DIR = {"left": "左", "right": "右", "up": "上", "down": "下"}

LABELS = {
    "add": "object-add",
    "remove": "object-remove",
    "replace": "object-replace",
    "recolor": "object-recolor",
    "move": "object-reposition",
    "resize": "object-adjustment",
    "background": "background-replace",
    "brightness": "overall-brightness-adjustment",
    "contrast": "overall-contrast-adjustment",
    "blur": "overall-blur",
    "stylize": "overall-stylize",
}
OPS = tuple(LABELS)
EFFECT_OPS = ("brightness", "contrast", "blur", "stylize")
STYLES = ("posterize", "edges", "cartoon", "pixelate", "emboss")
EFFECT_ADJ = {
    ("brightness", "up"): "bright",
    ("brightness", "down"): "dark",
    ("contrast", "up"): "high-contrast",
    ("contrast", "down"): "washed-out",
    ("blur", ""): "blurry",
    ("stylize", "posterize"): "posterized",
    ("stylize", "edges"): "outline-sketch",
    ("stylize", "cartoon"): "cartoon-style",
    ("stylize", "pixelate"): "pixelated",
    ("stylize", "emboss"): "embossed",
}


# --------------------------------------------------------------------------------------------------------------
# scene model


@dataclass(frozen=True)
class Shape:
    kind: str
    color: str
    x: float  # centre, fraction of width
    y: float  # centre, fraction of height
    size: int  # 0 small, 1 medium, 2 large
    angle: float = 0.0  # degrees

    @property
    def ref(self) -> str:
        return f"{self.color} {self.kind}"


@dataclass(frozen=True)
class Background:
    kind: str  # solid, gradient, stripes, checker, dots
    c1: str
    c2: str = ""

    def phrase(self) -> str:
        if self.kind == "solid":
            return f"{_article(self.c1)} {self.c1} background"
        if self.kind == "gradient":
            return f"{_article(self.c1)} {self.c1} to {self.c2} gradient background"
        if self.kind == "stripes":
            return f"{_article(self.c1)} {self.c1} and {self.c2} striped background"
        if self.kind == "checker":
            return f"{_article(self.c1)} {self.c1} and {self.c2} checkered background"
        return f"{_article(self.c1)} {self.c1} background with {self.c2} polka dots"

    def short(self, rng: np.random.Generator) -> str:
        """A varied phrase naming this background, used in instructions."""
        if self.kind == "solid":
            return _pick(
                rng,
                (
                    f"a plain {self.c1} background",
                    f"{_article(self.c1)} {self.c1} background",
                    f"solid {self.c1}",
                ),
            )
        if self.kind == "gradient":
            return _pick(
                rng,
                (
                    f"{_article(self.c1)} {self.c1} to {self.c2} gradient",
                    f"a gradient from {self.c1} to {self.c2}",
                ),
            )
        if self.kind == "stripes":
            return _pick(
                rng, (f"{self.c1} and {self.c2} stripes", f"a striped {self.c1} and {self.c2} pattern")
            )
        if self.kind == "checker":
            return _pick(
                rng,
                (
                    f"{_article(self.c1)} {self.c1} and {self.c2} checkerboard",
                    f"a checkered {self.c1} and {self.c2} pattern",
                ),
            )
        return _pick(
            rng,
            (
                f"{self.c2} polka dots on {self.c1}",
                f"{_article(self.c1)} {self.c1} background with {self.c2} dots",
            ),
        )

    def cn(self) -> str:
        if self.kind == "solid":
            return f"{CN_COLOR[self.c1]}背景"
        if self.kind == "gradient":
            return f"{CN_COLOR[self.c1]}到{CN_COLOR[self.c2]}的渐变背景"
        if self.kind == "stripes":
            return f"{CN_COLOR[self.c1]}和{CN_COLOR[self.c2]}条纹背景"
        if self.kind == "checker":
            return f"{CN_COLOR[self.c1]}和{CN_COLOR[self.c2]}棋盘格背景"
        return f"{CN_COLOR[self.c1]}底{CN_COLOR[self.c2]}波点背景"


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    background: Background
    shapes: tuple[Shape, ...]
    effects: tuple[tuple[str, str], ...] = ()  # (effect op, parameter) applied in order after drawing

    def find(self, ref: str) -> int:
        for i, s in enumerate(self.shapes):
            if s.ref == ref:
                return i
        raise KeyError(ref)


@dataclass(frozen=True)
class Edit:
    """One real edit: `op` on `scene` with its parameters; `result` is the edited scene."""

    op: str
    scene: Scene
    result: Scene
    params: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return LABELS[self.op]


@dataclass
class Pair:
    source: Image.Image
    target: Image.Image
    instruction: str
    source_caption: str
    target_caption: str
    label: str
    op: str
    edit: Edit | None = None


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


# --------------------------------------------------------------------------------------------------------------
# random scenes


def _colour_distance(a: str, b: str) -> float:
    return float(np.linalg.norm(np.subtract(BG_COLORS[a], BG_COLORS[b])))


def random_background(rng: np.random.Generator, avoid: Background | None = None) -> Background:
    """A random background; with `avoid`, one that looks clearly different from it (its main colour moves)."""
    names = list(BG_COLORS)
    for _ in range(50):
        kind = _pick(rng, ("solid", "solid", "solid", "gradient", "gradient", "stripes", "checker", "dots"))
        c1 = _pick(rng, names)
        c2 = ""
        if kind != "solid":
            c2 = _pick(rng, [n for n in names if _colour_distance(n, c1) > 60])
        bg = Background(kind, c1, c2)
        if avoid is None:
            return bg
        if _colour_distance(c1, avoid.c1) > 70 and (not avoid.c2 or _colour_distance(c1, avoid.c2) > 40):
            return bg
    return Background("solid", "navy" if avoid and _colour_distance("navy", avoid.c1) > 70 else "cream")


def _radii(size: int, w: int, h: int) -> tuple[float, float]:
    """A shape's radius as a fraction of the width and of the height (radius scales with the short side)."""
    r = SIZE_FRAC[size] * min(w, h)
    return r / w, r / h


def _overlaps(shapes, x: float, y: float, size: int, w: int, h: int, ignore: int = -1) -> bool:
    m = min(w, h)
    for i, s in enumerate(shapes):
        if i == ignore:
            continue
        if math.hypot((s.x - x) * w, (s.y - y) * h) / m < (SIZE_FRAC[size] + SIZE_FRAC[s.size]) * 1.05:
            return True
    return False


def _free_spot(rng, shapes, size: int, w: int, h: int, ignore: int = -1) -> tuple[float, float, bool]:
    rx, ry = _radii(size, w, h)
    x = y = 0.5
    for _ in range(30):
        x = float(rng.uniform(rx + 0.02, 1 - rx - 0.02))
        y = float(rng.uniform(ry + 0.02, 1 - ry - 0.02))
        if not _overlaps(shapes, x, y, size, w, h, ignore):
            return round(x, 3), round(y, 3), True
    return round(x, 3), round(y, 3), False


def random_shape(rng, shapes: tuple[Shape, ...], w: int, h: int) -> Shape:
    used = {s.ref for s in shapes}
    while True:
        kind = _pick(rng, SHAPE_KINDS)
        color = _pick(rng, list(SHAPE_COLORS))
        if f"{color} {kind}" not in used:
            break
    size = int(rng.integers(3))
    x, y, ok = _free_spot(rng, shapes, size, w, h)
    while not ok and size > 0:  # crowded frame: try a smaller shape
        size -= 1
        x, y, ok = _free_spot(rng, shapes, size, w, h)
    angle = 0.0 if kind in ("circle",) else float(rng.choice([0.0, 0.0, -12.0, 12.0]))
    return Shape(kind, color, x, y, size, angle)


def random_scene(rng: np.random.Generator, size: int | None = None, n_shapes: int | None = None) -> Scene:
    if size is None:
        w = int(rng.integers(8, 17)) * 16
        h = int(rng.integers(8, 17)) * 16
    else:
        w = h = int(size)
    n = int(n_shapes) if n_shapes else int(rng.choice([1, 2, 2, 3, 3, 4]))
    shapes: tuple[Shape, ...] = ()
    for _ in range(n):
        shapes = shapes + (random_shape(rng, shapes, w, h),)
    return Scene(w, h, random_background(rng), shapes)


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


# --------------------------------------------------------------------------------------------------------------
# captions


def _region(s: Shape) -> str:
    v = "top" if s.y < 0.36 else "bottom" if s.y > 0.64 else ""
    hz = "left" if s.x < 0.36 else "right" if s.x > 0.64 else ""
    if v and hz:
        return f"in the {v} {hz}"
    if v:
        return f"at the {v}"
    if hz:
        return f"on the {hz}"
    return "in the middle"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def shape_phrase(s: Shape, with_region: bool = True) -> str:
    words = " ".join(w for w in (SIZE_WORDS[s.size], s.color, s.kind) if w)
    text = f"{_article(words)} {words}"
    return f"{text} {_region(s)}" if with_region else text


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def caption(scene: Scene) -> str:
    objs = _join([shape_phrase(s) for s in scene.shapes])
    bg = scene.background.phrase()
    body = f"{objs}, on {bg}" if objs else f"an empty {bg.split(' ', 1)[1]}"
    adjs = []
    for op, param in scene.effects:
        key = (op, param if op != "blur" else "")
        adj = EFFECT_ADJ[key]
        if adj not in adjs:
            adjs.append(adj)
    if adjs:
        return f"{_article(adjs[0])} {', '.join(adjs)} picture of {body}"
    return body


# --------------------------------------------------------------------------------------------------------------
# edits


def applicable_ops(scene: Scene) -> list[str]:
    ops = []
    n = len(scene.shapes)
    used_effects = {op for op, _ in scene.effects}
    colourless = any(op == "stylize" and p in ("edges", "emboss") for op, p in scene.effects)
    for op in OPS:
        if op == "add" and n >= 4:
            continue
        if op == "remove" and n < 2:
            continue
        if op in EFFECT_OPS and op in used_effects:
            continue
        if op in ("brightness", "contrast", "blur") and "stylize" in used_effects:
            continue
        if op == "stylize" and used_effects:
            continue
        if op in ("recolor", "background") and colourless:  # colour is gone after an edge/emboss style
            continue
        ops.append(op)
    return ops


def make_edit(scene: Scene, op: str, rng: np.random.Generator) -> Edit:
    """Draw the parameters of `op` on `scene` and return the edit (scene -> result)."""
    shapes = scene.shapes
    if op == "add":
        new = random_shape(rng, shapes, scene.width, scene.height)
        return Edit(op, scene, replace(scene, shapes=shapes + (new,)), {"shape": new})
    if op in ("remove", "replace", "recolor", "move", "resize"):
        candidates = list(range(len(shapes)))
        if op == "resize":
            candidates = list(range(len(shapes)))
        idx = int(_pick(rng, candidates))
        s = shapes[idx]
        used = {t.ref for t in shapes}
        if op == "remove":
            return Edit(op, scene, replace(scene, shapes=shapes[:idx] + shapes[idx + 1 :]), {"shape": s})
        if op == "replace":
            kinds = [k for k in SHAPE_KINDS if k != s.kind and f"{s.color} {k}" not in used]
            far = [
                k for k in kinds if _FAMILY[k] != _FAMILY[s.kind]
            ]  # a hexagon into a pentagon is hard to see
            kind = _pick(rng, far or kinds)
            ns = replace(s, kind=kind, angle=0.0 if kind == "circle" else s.angle)
        elif op == "recolor":
            colors = [c for c in SHAPE_COLORS if c != s.color and f"{c} {s.kind}" not in used]
            ns = replace(s, color=_pick(rng, colors))
        elif op == "resize":
            if s.size == 0:
                d = "bigger"
            elif s.size == 2:
                d = "smaller"
            else:
                d = _pick(rng, ("bigger", "smaller"))
            nsize = min(2, s.size + 2) if d == "bigger" else max(0, s.size - 2)
            if nsize == s.size:
                nsize = s.size + (1 if d == "bigger" else -1)
            rx, ry = _radii(nsize, scene.width, scene.height)
            ns = replace(
                s,
                size=nsize,
                x=round(min(max(s.x, rx + 0.01), 1 - rx - 0.01), 3),
                y=round(min(max(s.y, ry + 0.01), 1 - ry - 0.01), 3),
            )
            return Edit(
                op,
                scene,
                replace(scene, shapes=shapes[:idx] + (ns,) + shapes[idx + 1 :]),
                {"shape": s, "new": ns, "direction": d},
            )
        else:  # move
            rx, ry = _radii(s.size, scene.width, scene.height)
            step = 0.3
            dirs = []
            if s.x - step >= rx:
                dirs.append("left")
            if s.x + step <= 1 - rx:
                dirs.append("right")
            if s.y - step >= ry:
                dirs.append("up")
            if s.y + step <= 1 - ry:
                dirs.append("down")
            if not dirs:  # large shape in a small frame: move to the far side
                dirs = ["left" if s.x > 0.5 else "right"]

            def moved(d: str) -> Shape:
                dx = {"left": -step, "right": step}.get(d, 0.0)
                dy = {"up": -step, "down": step}.get(d, 0.0)
                nx = min(max(s.x + dx, rx), 1 - rx)
                ny = min(max(s.y + dy, ry), 1 - ry)
                return replace(s, x=round(nx, 3), y=round(ny, 3))

            w, h = scene.width, scene.height
            clear = [
                d for d in dirs if not _overlaps(shapes, moved(d).x, moved(d).y, s.size, w, h, ignore=idx)
            ]
            d = _pick(rng, clear or dirs)
            ns = moved(d)
            if clear:
                new_shapes = shapes[:idx] + (ns,) + shapes[idx + 1 :]
            else:  # nowhere free: the moved shape is drawn on top so the move stays visible
                new_shapes = shapes[:idx] + shapes[idx + 1 :] + (ns,)
            return Edit(op, scene, replace(scene, shapes=new_shapes), {"shape": s, "new": ns, "direction": d})
        return Edit(
            op,
            scene,
            replace(scene, shapes=shapes[:idx] + (ns,) + shapes[idx + 1 :]),
            {"shape": s, "new": ns},
        )
    if op == "background":
        bg = random_background(rng, avoid=scene.background)
        return Edit(op, scene, replace(scene, background=bg), {"background": bg})
    if op in ("brightness", "contrast"):
        d = _pick(rng, ("up", "down"))
        return Edit(op, scene, replace(scene, effects=scene.effects + ((op, d),)), {"direction": d})
    if op == "blur":
        return Edit(op, scene, replace(scene, effects=scene.effects + (("blur", ""),)), {})
    if op == "stylize":
        style = _pick(rng, STYLES)
        return Edit(
            op, scene, replace(scene, effects=scene.effects + (("stylize", style),)), {"style": style}
        )
    raise ValueError(op)


def random_edit(scene: Scene, rng: np.random.Generator, ops: list[str] | None = None, weights=None) -> Edit:
    ok = applicable_ops(scene)
    pool = [o for o in (ops or OPS) if o in ok] or ok
    if weights is not None:
        w = np.array([weights.get(o, 1.0) for o in pool], dtype=float)
        op = pool[int(rng.choice(len(pool), p=w / w.sum()))]
    else:
        op = _pick(rng, pool)
    return make_edit(scene, op, rng)


# --------------------------------------------------------------------------------------------------------------
# instructions


def _kind_word(rng, kind: str) -> str:
    return _pick(rng, KIND_SYNONYMS[kind])


def _color_word(rng, color: str) -> str:
    return _pick(rng, COLOR_SYNONYMS.get(color, (color,)))


def _ref(rng, s: Shape) -> str:
    text = f"the {_color_word(rng, s.color)} {_kind_word(rng, s.kind)}"
    if rng.random() < 0.2:  # sometimes also say where it is
        text += " " + _region(s)
    return text


_DIR_WORDS = {
    "left": ("to the left", "left", "further left", "toward the left edge"),
    "right": ("to the right", "right", "further right", "toward the right edge"),
    "up": ("up", "upward", "higher", "toward the top"),
    "down": ("down", "downward", "lower", "toward the bottom"),
}


def instruction(edit: Edit, rng: np.random.Generator) -> str:
    """A natural-language instruction that describes `edit` (templates vary by phrasing and synonyms)."""
    op, p = edit.op, edit.params
    if op == "add":
        s = p["shape"]
        thing = shape_phrase(s, with_region=False)
        where = _region(s)
        t = _pick(
            rng,
            (
                f"add {thing} {where}",
                f"add {thing}",
                f"put {thing} {where}",
                f"insert {thing} {where}",
                f"place {thing} {where}",
                f"there should be {thing} {where}",
                f"draw {thing} {where}",
                f"include {thing} in the picture",
            ),
        )
    elif op == "remove":
        r = _ref(rng, p["shape"])
        t = _pick(
            rng,
            (
                f"remove {r}",
                f"delete {r}",
                f"get rid of {r}",
                f"erase {r}",
                f"take out {r}",
                f"remove {r} from the picture",
                f"the image should not contain {r}",
                f"make {r} disappear",
            ),
        )
    elif op == "replace":
        r = _ref(rng, p["shape"])
        nk = _kind_word(rng, p["new"].kind)
        a = _article(nk)
        t = _pick(
            rng,
            (
                f"replace {r} with {a} {nk}",
                f"turn {r} into {a} {nk}",
                f"swap {r} for {a} {nk}",
                f"change {r} into {_article(p['new'].color)} {p['new'].color} {nk}",
                f"{r} should be {a} {nk} instead",
                f"make {r} {a} {nk}",
            ),
        )
    elif op == "recolor":
        r = _ref(rng, p["shape"])
        c = _color_word(rng, p["new"].color)
        t = _pick(
            rng,
            (
                f"make {r} {c}",
                f"change the color of {r} to {c}",
                f"paint {r} {c}",
                f"recolor {r} {c}",
                f"{r} should be {c}",
                f"color {r} {c} instead",
                f"turn {r} {c}",
            ),
        )
    elif op == "move":
        r = _ref(rng, p["shape"])
        d = _pick(rng, _DIR_WORDS[p["direction"]])
        t = _pick(
            rng,
            (
                f"move {r} {d}",
                f"shift {r} {d}",
                f"slide {r} {d}",
                f"push {r} {d}",
                f"reposition {r} {d}",
                f"{r} should sit {d}",
            ),
        )
    elif op == "resize":
        r = _ref(rng, p["shape"])
        if p["direction"] == "bigger":
            t = _pick(
                rng,
                (
                    f"make {r} bigger",
                    f"enlarge {r}",
                    f"make {r} larger",
                    f"scale up {r}",
                    f"increase the size of {r}",
                    f"{r} should be much bigger",
                    f"grow {r}",
                ),
            )
        else:
            t = _pick(
                rng,
                (
                    f"make {r} smaller",
                    f"shrink {r}",
                    f"scale down {r}",
                    f"reduce the size of {r}",
                    f"{r} should be much smaller",
                    f"make {r} tiny",
                ),
            )
    elif op == "background":
        b = p["background"].short(rng)
        t = _pick(
            rng,
            (
                f"change the background to {b}",
                f"replace the background with {b}",
                f"use {b} as the background",
                f"set the background to {b}",
                f"swap the backdrop for {b}",
                f"the background should be {b}",
                f"put the shapes on {b}",
            ),
        )
        if p["background"].kind == "solid" and rng.random() < 0.4:
            t = _pick(
                rng,
                (f"make the background {p['background'].c1}", f"paint the background {p['background'].c1}"),
            )
    elif op == "brightness":
        if p["direction"] == "up":
            t = _pick(
                rng,
                (
                    "make the image brighter",
                    "brighten the picture",
                    "increase the brightness",
                    "raise the exposure",
                    "lighten the whole image",
                    "the picture should be brighter",
                    "turn up the brightness",
                ),
            )
        else:
            t = _pick(
                rng,
                (
                    "make the image darker",
                    "darken the picture",
                    "decrease the brightness",
                    "lower the exposure",
                    "dim the whole image",
                    "the picture should be darker",
                    "turn down the brightness",
                ),
            )
    elif op == "contrast":
        if p["direction"] == "up":
            t = _pick(
                rng,
                (
                    "increase the contrast",
                    "boost the contrast",
                    "make the colors pop with more contrast",
                    "add more contrast to the image",
                    "the image should have stronger contrast",
                    "raise the contrast",
                ),
            )
        else:
            t = _pick(
                rng,
                (
                    "reduce the contrast",
                    "lower the contrast",
                    "make the image look washed out",
                    "decrease the contrast",
                    "the image should have less contrast",
                    "flatten the contrast",
                ),
            )
    elif op == "blur":
        t = _pick(
            rng,
            (
                "blur the image",
                "make the whole picture blurry",
                "apply a gaussian blur",
                "soften the image with a blur",
                "the picture should be out of focus",
                "add a strong blur to everything",
                "make it blurry",
            ),
        )
    elif op == "stylize":
        st = p["style"]
        t = _pick(
            rng,
            {
                "posterize": (
                    "posterize the image",
                    "apply a posterize effect",
                    "reduce the image to a few flat colors",
                    "make it look like a poster with flat colors",
                ),
                "edges": (
                    "turn the image into an outline sketch",
                    "keep only the edges as a line drawing",
                    "make it look like a pencil outline",
                    "convert the picture to an edge sketch",
                ),
                "cartoon": (
                    "make it look like a cartoon",
                    "apply a cartoon style with dark outlines",
                    "turn the image into a cartoon",
                    "cartoonify the picture",
                ),
                "pixelate": (
                    "pixelate the image",
                    "make it look like pixel art",
                    "apply a mosaic pixel effect",
                    "turn the picture into big pixels",
                ),
                "emboss": (
                    "apply an emboss effect",
                    "emboss the image",
                    "make the picture look embossed",
                    "give the image a raised emboss look",
                ),
            }[st],
        )
    else:
        raise ValueError(op)
    return finish(t, rng)


def finish(text: str, rng: np.random.Generator) -> str:
    """Sentence case, optional politeness, optional final period."""
    u = float(rng.random())
    if u < 0.12 and not text.startswith(("the ", "there ")):
        text = _pick(rng, ("please ", "could you ", "can you ", "I want you to ", "let's ")) + text
        q = text.startswith(("could", "can"))
        text = text[0].upper() + text[1:]
        return text + ("?" if q else ".")
    text = text[0].upper() + text[1:]
    return text + ("." if u < 0.6 else "")


def instruction_cn(edit: Edit) -> str:
    op, p = edit.op, edit.params
    if op in ("remove", "replace", "recolor", "move", "resize", "add"):
        s = p["shape"]
        ref = f"{CN_COLOR[s.color]}的{CN_KIND[s.kind]}"
    if op == "add":
        return f"添加一个{ref}"
    if op == "remove":
        return f"移除{ref}"
    if op == "replace":
        return f"把{ref}替换成{CN_KIND[p['new'].kind]}"
    if op == "recolor":
        return f"把{ref}改成{CN_COLOR[p['new'].color]}"
    if op == "move":
        return f"把{ref}向{CN_DIR[p['direction']]}移动"
    if op == "resize":
        return f"把{ref}{'放大' if p['direction'] == 'bigger' else '缩小'}"
    if op == "background":
        return f"把背景换成{p['background'].cn()}"
    if op == "brightness":
        return "提高图像亮度" if p["direction"] == "up" else "降低图像亮度"
    if op == "contrast":
        return "增强对比度" if p["direction"] == "up" else "降低对比度"
    if op == "blur":
        return "模糊整张图像"
    return {
        "posterize": "给图像加上色调分离效果",
        "edges": "把图像转换为线稿",
        "cartoon": "把图像转换为卡通风格",
        "pixelate": "把图像像素化",
        "emboss": "给图像加上浮雕效果",
    }[p["style"]]


def rewrite_gpt4v(edit: Edit, rng: np.random.Generator) -> str:
    """A longer, more formal rewrite of an instruction (stands in for SEED's GPT-4V rewrites)."""
    base = instruction(edit, rng).rstrip(".?")
    base = base[0].lower() + base[1:]
    for prefix in ("please ", "could you ", "can you ", "i want you to ", "let's "):
        base = base.removeprefix(prefix)
    tail = _pick(
        rng,
        (
            ", keeping every other element of the image unchanged.",
            " while leaving the rest of the composition exactly as it is.",
            ", and preserve the remaining shapes and their positions.",
            ", with no other changes.",
        ),
    )
    lead = _pick(rng, ("", "In this image, ", "For this picture, ", "Edit the image as follows: "))
    text = base + tail
    return (lead + text) if lead else text[0].upper() + text[1:]


# --------------------------------------------------------------------------------------------------------------
# wrong instructions and the pair stream


def wrong_instruction(pair_or_edit: Pair | Edit, rng: np.random.Generator) -> str:
    """An instruction for a DIFFERENT edit of the same source scene (another operation where possible)."""
    edit = pair_or_edit.edit if isinstance(pair_or_edit, Pair) else pair_or_edit
    if edit is None:
        raise ValueError("wrong_instruction needs a Pair produced by iter_pairs (with .edit) or an Edit")
    scene = edit.scene
    others = [o for o in applicable_ops(scene) if o != edit.op]
    # a different effect op is visually different too; a different object op on another shape as well
    op = _pick(rng, others)
    other = make_edit(scene, op, rng)
    return instruction(other, rng)


def make_pair(edit: Edit, rng: np.random.Generator, source: Image.Image | None = None) -> Pair:
    src = source if source is not None else render(edit.scene)
    return Pair(
        source=src,
        target=render(edit.result),
        instruction=instruction(edit, rng),
        source_caption=caption(edit.scene),
        target_caption=caption(edit.result),
        label=edit.label,
        op=edit.op,
        edit=edit,
    )


def iter_pairs(n: int, seed: int, size: int | None = None) -> Iterator[Pair]:
    """`n` independent single-operation edit pairs (deterministic for `seed`); `size` fixes square images."""
    rng = np.random.default_rng([seed, 0x5EED])
    for _ in range(n):
        scene = random_scene(rng, size=size)
        if rng.random() < 0.15:  # some sources already carry a global effect
            eff = random_edit(scene, rng, ops=["brightness", "contrast", "blur"])
            scene = eff.result
        edit = random_edit(scene, rng)
        yield make_pair(edit, rng)
