"""The shapes world's scene model: its vocabulary (shapes, colours, sizes, operations, labels, Chinese renderings),
`Shape`, `Background`, `Scene`, `Edit` and `Pair`, and random scenes.

A `Scene` is a background plus 1-4 shapes (each with a unique colour+kind, so "the red circle" always names one
shape) and a list of global effects. Colour names avoid black/white/brown, which double as demographic words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

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


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


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
