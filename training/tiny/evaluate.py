"""Evaluate `editlens-tiny` on freshly generated shapes-world pairs (a seed training never used).

    python -m training.tiny.evaluate [--weights PATH] [--n 400] [--seed 1000]

Reports (and returns as a dict):

- auc_instruction_directional: ROC AUC of cos(E_I(target) - E_I(source), E_T(instruction)) for each pair's own
  instruction (positive) against an instruction describing a different edit of the same source (negative,
  `editlens.sample.world.wrong_instruction`; without it, an instruction of another pair with a different op);
- auc_caption_directional: the same for cos(E_I(target) - E_I(source), E_T(target caption) -
  E_T(source caption)) with the pair's own captions against those of a different edit of the same source;
- clip_t_accuracy: share of pairs whose target image is closer to its target caption than to its source
  caption;
- clip_t_mean / clip_t_wrong_mean: mean CLIP-T of the target image with its own target caption / with another
  pair's target caption; clip_i_mean: mean CLIP-I of the pairs; clip_i_identical_min: CLIP-I of an image with
  itself (must be 1).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from editlens.embeddings import tiny


@dataclass(frozen=True)
class EvalConfig:
    n: int = 400
    seed: int = 1000  # training uses small seeds (0 by default); evaluation draws elsewhere
    batch_size: int = 64
    threads: int = 1
    world: str = "editlens.sample.world"


def roc_auc(positives, negatives) -> float:
    """ROC AUC = P(score of a random positive > score of a random negative), ties counting one half
    (the Mann-Whitney U statistic over the pooled average ranks)."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("roc_auc needs at least one positive and one negative")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties (1-based)
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


@torch.no_grad()
def embed_images(model, preprocess, images, batch_size: int = 64) -> torch.Tensor:
    out = []
    for i in range(0, len(images), batch_size):
        x = torch.stack([preprocess(im.convert("RGB")) for im in images[i:i + batch_size]])
        out.append(F.normalize(model.encode_image(x).float(), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def embed_texts(model, tokenizer, texts, batch_size: int = 256) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch_size):
        out.append(F.normalize(model.encode_text(tokenizer(list(texts[i:i + batch_size]))).float(), dim=-1))
    return torch.cat(out)


def cos_rows(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return F.cosine_similarity(a, b, dim=-1).numpy()


def wrong_edits(world, pairs, seed: int) -> list[tuple[str, str]]:
    """For each pair: (wrong instruction, wrong target caption) of a different edit of the same source."""
    rng = np.random.default_rng([seed, 2])
    out = []
    make_edit = getattr(world, "make_edit", None)
    if hasattr(world, "applicable_ops") and make_edit is not None and all(p.edit is not None for p in pairs):
        for p in pairs:
            ops = [o for o in world.applicable_ops(p.edit.scene) if o != p.op]
            other = make_edit(p.edit.scene, ops[int(rng.integers(len(ops)))], rng)
            out.append((world.instruction(other, rng), world.caption(other.result)))
        return out
    # generic fallback: the instruction/caption of another pair with a different op
    for i, p in enumerate(pairs):
        js = [j for j in range(len(pairs)) if pairs[j].op != p.op]
        j = js[int(rng.integers(len(js)))]
        out.append((pairs[j].instruction, pairs[j].target_caption))
    return out


def evaluate(model, preprocess, tokenizer, cfg: EvalConfig = EvalConfig()) -> dict:
    import importlib

    from training.tiny.train import call_iter_pairs

    torch.set_num_threads(cfg.threads)
    model.eval()
    world = importlib.import_module(cfg.world)
    pairs = list(itertools.islice(call_iter_pairs(world, cfg.seed, cfg.n), cfg.n))
    wrong = wrong_edits(world, pairs, cfg.seed)

    src = embed_images(model, preprocess, [p.source for p in pairs], cfg.batch_size)
    tgt = embed_images(model, preprocess, [p.target for p in pairs], cfg.batch_size)
    n = len(pairs)
    texts = ([p.instruction for p in pairs] + [w[0] for w in wrong] + [p.source_caption for p in pairs]
             + [p.target_caption for p in pairs] + [w[1] for w in wrong])
    t = embed_texts(model, tokenizer, texts)
    t_ins, t_wins, t_scap, t_tcap, t_wcap = (t[k * n:(k + 1) * n] for k in range(5))

    d_img = tgt - src
    dir_ok = cos_rows(d_img, t_ins)
    dir_wrong = cos_rows(d_img, t_wins)
    cdir_ok = cos_rows(d_img, t_tcap - t_scap)
    cdir_wrong = cos_rows(d_img, t_wcap - t_scap)
    clip_t = cos_rows(tgt, t_tcap)
    clip_t_src_caption = cos_rows(tgt, t_scap)
    clip_t_other = cos_rows(tgt, torch.roll(t_tcap, 1, 0))
    clip_i = cos_rows(src, tgt)
    k = min(n, 32)  # the same pictures embedded again: CLIP-I of an image with itself
    clip_i_same = cos_rows(src[:k], embed_images(model, preprocess, [p.source.copy() for p in pairs[:k]]))
    ops = sorted({p.op for p in pairs})
    per_op = {}
    for op in ops:
        idx = [i for i, p in enumerate(pairs) if p.op == op]
        per_op[op] = round(roc_auc(dir_ok[idx], dir_wrong[idx]), 3)
    return {
        "n_pairs": n,
        "seed": cfg.seed,
        "auc_instruction_directional": roc_auc(dir_ok, dir_wrong),
        "auc_caption_directional": roc_auc(cdir_ok, cdir_wrong),
        "clip_t_accuracy": float(np.mean(clip_t > clip_t_src_caption)),
        "clip_t_auc_own_vs_other_caption": roc_auc(clip_t, clip_t_other),
        "clip_t_mean": float(clip_t.mean()),
        "clip_t_wrong_mean": float(clip_t_other.mean()),
        "directional_instruction_mean": float(dir_ok.mean()),
        "directional_instruction_wrong_mean": float(dir_wrong.mean()),
        "directional_caption_mean": float(cdir_ok.mean()),
        "clip_i_mean": float(clip_i.mean()),
        "clip_i_identical_min": float(clip_i_same.min()),
        "auc_instruction_directional_by_op": per_op,
    }


def main(argv=None) -> int:
    d = EvalConfig()
    ap = argparse.ArgumentParser(prog="python -m training.tiny.evaluate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--weights", type=Path, default=tiny.WEIGHTS_PATH)
    ap.add_argument("--n", type=int, default=d.n)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--world", default=d.world)
    ap.add_argument("--resize-mode", default=tiny.RESIZE_MODE, choices=("squash", "shortest", "longest"),
                    help="image resize mode (open_clip's; the model is trained with squash)")
    a = ap.parse_args(argv)
    try:
        model, preprocess, tokenizer = tiny.load(a.weights, resize_mode=a.resize_mode)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = EvalConfig(n=a.n, seed=a.seed, threads=a.threads, world=a.world)
    res = evaluate(model, preprocess, tokenizer, cfg)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
