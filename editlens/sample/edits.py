"""The shapes world's edits: which operations apply to a scene, and `make_edit` / `random_edit`, one real edit of
it (the edited scene and the edit's parameters)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from editlens.sample.scenes import (
    _FAMILY,
    EFFECT_OPS,
    OPS,
    SHAPE_COLORS,
    SHAPE_KINDS,
    STYLES,
    Edit,
    Scene,
    Shape,
    _overlaps,
    _pick,
    _radii,
    random_background,
    random_shape,
)

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
