"""The shapes world's texts: `caption(scene)` describes a scene ("a small red circle on the left and a blue star on
a mint background"); `instruction(edit, rng)` phrases an edit (many templates per operation, imperative and
descriptive), with its Chinese rendering and the GPT-4V-style rewrite.

Vocabulary rule: normal templates never contain a demographic group term (person, man, woman, old, young, ...)
nor an unsafe term (weapons, violence, drugs, ...). The defect injector (`editlens.sample.defects`) adds such terms
on purpose, and only there.
"""

from __future__ import annotations

import numpy as np

from editlens.sample.scenes import (
    CN_COLOR,
    CN_DIR,
    CN_KIND,
    COLOR_SYNONYMS,
    EFFECT_ADJ,
    KIND_SYNONYMS,
    SIZE_WORDS,
    Edit,
    Scene,
    Shape,
    _article,
    _pick,
)

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
