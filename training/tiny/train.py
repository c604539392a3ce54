"""Train `editlens-tiny` on the procedurally generated shapes world (deterministic given the seed and settings).

    python -m training.tiny.train --seed 0 --steps N --out embeddings/tiny/editlens-tiny.safetensors
    python -m training.tiny.train --init W --device cuda --workers 14 --batch-size 256 --save-every 250 ...

On a GPU the pairs are drawn (and their texts tokenised) by `--workers` DataLoader processes, each with its own
seeded stream; `--save-every` writes the weights during the run, so a run cut short keeps a checkpoint.

The model is open_clip's own CLIP class built from `editlens-tiny.json`; images go through open_clip's eval
transform for that config (`editlens.embeddings.tiny.preprocess()`, shared with scoring). Each step draws a batch of
fresh correct edits from `editlens.sample.world.iter_pairs(n, seed)` (a share turned into two-operation edits,
half of the pairs seen as JPEGs) and minimises three contrastive (InfoNCE) losses:

1. caption: CLIP's symmetric image <-> caption loss over source and target images with their captions;
2. instruction-directional: normalised E_I(target) - E_I(source) <-> E_T(instruction) over the batch, with
   instructions for other edits of the same source (the world's `wrong_instruction`, as the sample injects
   them) as extra hard negatives, so that a wrong instruction scores low;
3. caption-directional: the same image difference <-> normalised E_T(target caption) - E_T(source caption).

Texts that are literally equal inside a batch count as positives for each other, never as negatives. Weights
are saved as fp16 safetensors with the run's settings in the file metadata (no timings: same seed and steps
give a byte-identical file).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import itertools
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from editlens.embeddings import tiny

CAPTION_NEGATIVE_OPS = ("move", "replace", "resize", "recolor")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1.5e-3
    min_lr: float = 1e-5
    warmup_steps: int = 100
    weight_decay: float = 0.05
    threads: int = 1
    w_caption: float = 1.0
    w_instruction: float = 2.0
    w_caption_direction: float = 0.5
    w_instruction_sigmoid: float = 0.0  # pairwise sigmoid loss: one threshold on cos then fits every operation
    hard_negatives: int = 3  # wrong instructions per pair, used as extra negatives
    p_two_ops: float = 0.1
    caption_negatives: int = 0  # near-miss captions per pair, extra negatives of the caption loss
    caption_negative_ops: tuple[str, ...] = CAPTION_NEGATIVE_OPS  # the edits that make the near-miss captions
    init: Path | None = None  # start from these weights (a continuation run) instead of random
    focus_ops: tuple[str, ...] = ()  # operations drawn more often (the ones the model still confuses)
    p_focus: float = 0.0  # share of pairs whose edit is redrawn from focus_ops on the same source scene
    p_same_shape: float = 0.0  # share of an object edit's wrong instructions that edit the same shape otherwise
    p_jpeg: float = 0.5
    world: str = "editlens.sample.world"
    out: Path = field(default_factory=lambda: tiny.WEIGHTS_PATH)
    log_every: int = 50
    device: str = "cpu"  # "cuda" trains on the GPU (the data is still drawn on CPU)
    workers: int = 0  # data processes (0: drawn in the training process, one stream seeded by `seed`)
    save_every: int = 0  # also write `out` every this many steps (a run cut short keeps its last checkpoint)


# ---------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------

def load_world(name: str):
    """Import the shapes-world module (its `iter_pairs` and, when present, `wrong_instruction`)."""
    return importlib.import_module(name)


def call_iter_pairs(world, seed: int, n: int):
    """`world.iter_pairs` seeded with `seed` (its signature is `iter_pairs(n, seed, size=None)`)."""
    fn = world.iter_pairs
    params = inspect.signature(fn).parameters
    if "n" in params:
        return iter(fn(n=n, seed=seed))
    return iter(fn(seed=seed))


def call_wrong_instruction(world, pair, rng: np.random.Generator) -> str | None:
    """A wrong instruction (describing a different edit of the same source) from the world; None if absent."""
    fn = getattr(world, "wrong_instruction", None)
    if fn is None:
        return None
    out = fn(pair, rng)
    return out if isinstance(out, str) else getattr(out, "instruction", None)


class TokenCache:
    """Tokenises each distinct text once."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, torch.Tensor] = {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, row in zip(missing, self.tokenizer(missing)):
                self.cache[t] = row
        return torch.stack([self.cache[t] for t in texts])


def encode_text_trimmed(model, tokens: torch.Tensor) -> torch.Tensor:
    """`model.encode_text(tokens)` computed only over the batch's longest real sequence instead of the full
    context: with the causal mask and end-of-text pooling, the padding after the end token cannot change the
    result, so this is the same function (to float rounding) at a fraction of the cost for short texts."""
    n = int((tokens != 0).sum(1).max())
    t = tokens[:, :n]
    x = model.token_embedding(t) + model.positional_embedding[:n]
    mask = model.attn_mask[:n, :n] if model.attn_mask is not None else None
    x = model.ln_final(model.transformer(x, attn_mask=mask))
    x = x[torch.arange(x.shape[0]), t.argmax(dim=-1)]
    return x @ model.text_projection


def image_batch(preprocess, images) -> torch.Tensor:
    return torch.stack([preprocess(im.convert("RGB")) for im in images])


def jpeg_roundtrip(img, quality: int):
    """The picture as a JPEG of `quality` would decode (datasets, the sample included, ship JPEGs)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def augment(pair, rng: np.random.Generator, p_jpeg: float):
    """(source, target) images, both JPEG-compressed at one random quality with probability p_jpeg."""
    if p_jpeg > 0 and rng.random() < p_jpeg:
        q = int(rng.integers(70, 96))
        return jpeg_roundtrip(pair.source, q), jpeg_roundtrip(pair.target, q)
    return pair.source, pair.target


# ---------------------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------------------

def equal_mask(a: list, b: list, device=None) -> torch.Tensor:
    """mask[i, j] = a[i] == b[j] (items are hashable: texts or tuples of texts)."""
    ids: dict = {}
    ia = torch.tensor([ids.setdefault(x, len(ids)) for x in a], dtype=torch.long)
    ib = torch.tensor([ids.setdefault(y, len(ids)) for y in b], dtype=torch.long)
    return (ia[:, None] == ib[None, :]).to(device=device, dtype=torch.float32)


def soft_ce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the uniform distribution over each row's positives (rows without any skipped)."""
    has = positives.sum(1) > 0
    target = positives[has] / positives[has].sum(1, keepdim=True)
    return -(target * logits[has].log_softmax(1)).sum(1).mean()


def contrastive(a: torch.Tensor, b: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor,
                extra_b: torch.Tensor | None = None, extra_pos: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between rows of a and b (both L2-normalised).

    extra_b are additional columns for the a -> b direction only (hard negatives; extra_pos marks the ones
    that happen to equal a row's own positive)."""
    logits = scale * a @ b.T
    logits_ab, ab_pos = logits, positives
    if extra_b is not None and len(extra_b):
        logits_ab = torch.cat([logits, scale * a @ extra_b.T], 1)
        ab_pos = torch.cat([positives, extra_pos], 1)
    return 0.5 * (soft_ce(logits_ab, ab_pos) + soft_ce(logits.T, positives.T))


def sigmoid_pairs(a: torch.Tensor, b: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor,
                  bias: torch.Tensor) -> torch.Tensor:
    """Pairwise sigmoid loss (as in SigLIP) between rows of a and b: every (row, column) pair is a binary
    decision "positive or not" on scale * cos + bias with one shared bias, so the cosine itself becomes
    comparable across rows (a global threshold) instead of only within a row (what InfoNCE asks)."""
    z = 2.0 * positives - 1.0
    logits = scale * a @ b.T + bias
    return -F.logsigmoid(z * logits).sum(1).mean()


def losses(model, dir_scale, batch, tokens: TokenCache, cfg: TrainConfig,
           sig: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    src, tgt, instr, scap, tcap, wrong, wcaps = batch[:7]
    n = len(instr)
    dev = model.logit_scale.device
    img = F.normalize(model.encode_image(torch.cat([src, tgt]).to(dev, non_blocking=True)), dim=-1)
    captions = scap + tcap + list(wcaps)
    short = instr + list(wrong)
    # batches from data workers carry their texts already tokenised (`batch_texts_tokens`)
    cap_tok, short_tok = batch[7:9] if len(batch) >= 9 else (tokens(captions), tokens(short))
    txt = F.normalize(torch.cat([encode_text_trimmed(model, cap_tok.to(dev, non_blocking=True)),
                                 encode_text_trimmed(model, short_tok.to(dev, non_blocking=True))]), dim=-1)
    n_w = len(wcaps)
    t_wcap = txt[2 * n:2 * n + n_w]
    txt = torch.cat([txt[:2 * n], txt[2 * n + n_w:]])
    e_src, e_tgt = img[:n], img[n:]
    t_scap, t_tcap, t_instr, t_wrong = txt[:n], txt[n:2 * n], txt[2 * n:3 * n], txt[3 * n:]

    caps = scap + tcap
    clip_scale = model.logit_scale.exp().clamp(max=100)
    l_cap = contrastive(img, torch.cat([t_scap, t_tcap]), equal_mask(caps, caps, dev), clip_scale,
                        extra_b=t_wcap if n_w else None,
                        extra_pos=equal_mask(caps, list(wcaps), dev) if n_w else None)

    d_img = F.normalize(e_tgt - e_src, dim=-1)
    s = dir_scale.exp().clamp(max=100)
    wrong_texts = list(wrong)
    hard = bool(wrong_texts)
    # a "wrong" instruction that equals a row's own instruction is a positive for that row, not a negative
    l_ins = contrastive(d_img, t_instr, equal_mask(instr, instr, dev), s,
                        extra_b=t_wrong if hard else None,
                        extra_pos=equal_mask(instr, wrong_texts, dev) if hard else None)

    d_cap = F.normalize(t_tcap - t_scap, dim=-1)
    cap_pairs = list(zip(scap, tcap))
    l_cdir = contrastive(d_img, d_cap, equal_mask(cap_pairs, cap_pairs, dev), s)
    total = cfg.w_caption * l_cap + cfg.w_instruction * l_ins + cfg.w_caption_direction * l_cdir
    out = {"loss": total, "caption": l_cap, "instruction": l_ins, "caption_direction": l_cdir}
    if cfg.w_instruction_sigmoid > 0 and sig is not None:
        cols = torch.cat([t_instr, t_wrong]) if hard else t_instr
        pos = torch.cat([equal_mask(instr, instr, dev), equal_mask(instr, wrong_texts, dev)], 1) if hard \
            else equal_mask(instr, instr, dev)
        l_sig = sigmoid_pairs(d_img, cols, pos, sig[0].exp(), sig[1])
        out["instruction_sigmoid"] = l_sig
        out["loss"] = total + cfg.w_instruction_sigmoid * l_sig
    return out


# ---------------------------------------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------------------------------------

def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))


@dataclass
class TrainPair:
    source: object
    target: object
    instruction: str
    source_caption: str
    target_caption: str
    op: str
    wrong: list  # instructions describing edits of the same source that did not happen
    wrong_captions: list  # captions of the target scene after a different edit (position, kind, size, colour)


JOINERS = ("{a}, and {b}.", "{a}. Then {b}.", "{a} and also {b}", "{a}, then {b}")


def _sentence_tail(text: str) -> str:
    text = text.rstrip(".?")
    return text[0].lower() + text[1:]


def two_op_pair(world, pair, rng: np.random.Generator):
    """A second operation on top of `pair`'s edit (datasets such as SEED Part 2 carry two-operation records):
    target rendered after both, instruction the two phrases joined; None when the world cannot do it."""
    e1 = getattr(pair, "edit", None)
    needs = ("applicable_ops", "make_edit", "instruction", "render", "caption")
    if e1 is None or not all(hasattr(world, f) for f in needs):
        return None
    ops = [o for o in world.applicable_ops(e1.result) if o != e1.op]
    if not ops:
        return None
    e2 = world.make_edit(e1.result, ops[int(rng.integers(len(ops)))], rng)
    a = pair.instruction.rstrip(".?")
    b = _sentence_tail(world.instruction(e2, rng))
    text = JOINERS[int(rng.integers(len(JOINERS)))].format(a=a, b=b)
    return e1, e2, world.render(e2.result), text, world.caption(e2.result)


def wrong_for_edits(world, edits, rng: np.random.Generator, k: int) -> list[str]:
    """k instructions for other operations on the same source scene (none of the ops that happened)."""
    scene = edits[0].scene
    used = {e.op for e in edits}
    ops = [o for o in world.applicable_ops(scene) if o not in used]
    return [world.instruction(world.make_edit(scene, ops[int(rng.integers(len(ops)))], rng), rng)
            for _ in range(k)] if ops else []


def wrong_captions_for(world, scene, rng: np.random.Generator, k: int,
                       kinds: tuple[str, ...] = CAPTION_NEGATIVE_OPS) -> list[str]:
    """Captions of `scene` after a different shape edit: near-miss captions that teach where, which kind and
    which size, not only which shapes are present."""
    needs = ("applicable_ops", "make_edit", "caption")
    if k <= 0 or scene is None or not all(hasattr(world, f) for f in needs):
        return []
    ops = [o for o in world.applicable_ops(scene) if o in kinds]
    return [world.caption(world.make_edit(scene, ops[int(rng.integers(len(ops)))], rng).result)
            for _ in range(k)] if ops else []


SHAPE_OPS = ("remove", "replace", "recolor", "move", "resize")  # operations on one existing shape


def same_shape_wrong_instruction(world, pair, rng: np.random.Generator, tries: int = 12) -> str | None:
    """An instruction for a different operation on the same shape as `pair`'s edit ("shrink the green star"
    for an edit that removed it): the near misses the model confuses most. None when the edit is not on one
    existing shape, the world cannot do it, or no draw lands on that shape."""
    edit = getattr(pair, "edit", None)
    if edit is None or edit.op not in SHAPE_OPS or not all(hasattr(world, f) for f in
                                                           ("applicable_ops", "make_edit", "instruction")):
        return None
    shape = edit.params.get("shape")
    ops = [o for o in world.applicable_ops(edit.scene) if o in SHAPE_OPS and o != edit.op]
    for _ in range(tries if ops and shape is not None else 0):
        other = world.make_edit(edit.scene, ops[int(rng.integers(len(ops)))], rng)
        if other.params.get("shape") == shape:
            return world.instruction(other, rng)
    return None


def focus_pair(world, pair, ops: tuple[str, ...], rng: np.random.Generator):
    """`pair`'s source scene edited by one of `ops` instead (the world's `random_edit` falls back to any
    applicable operation when none of `ops` applies); `pair` itself when the world cannot do it."""
    edit = getattr(pair, "edit", None)
    if edit is None or not all(hasattr(world, f) for f in ("random_edit", "make_pair")):
        return pair
    return world.make_pair(world.random_edit(edit.scene, rng, ops=list(ops)), rng, source=pair.source)


def adapt_patch_embedding(sd: dict, model, key: str = "visual.conv1.weight") -> dict:
    """Weights trained with another patch size for the same token grid (e.g. 8 px patches of a 64 px picture
    -> 12 px patches of a 96 px one): the patch kernels are resized bilinearly and scaled by the area ratio, so
    each token sees the same region of the picture with about the same response; every other tensor is kept.
    `sd` unchanged when the shapes already agree."""
    want = model.state_dict()[key].shape
    w = sd.get(key)
    if w is None or w.shape == want or w.shape[:2] != want[:2]:
        return sd
    ratio = (w.shape[2] * w.shape[3]) / (want[2] * want[3])
    out = dict(sd)
    out[key] = torch.nn.functional.interpolate(w, size=tuple(want[2:]), mode="bilinear", align_corners=False) * ratio
    return out


def adapt_depth(sd: dict, model, prefix: str = "visual.transformer.resblocks.") -> dict:
    """Weights of a shallower tower (e.g. 4 vision blocks -> 6): the blocks it has are kept, each missing block
    takes the model's fresh initialisation with its two residual output projections (attention out_proj and MLP
    c_proj) set to zero, so it starts as the identity and the deeper model computes exactly what the shallower one
    did. `sd` unchanged when no block is missing."""
    have = model.state_dict()
    missing = [k for k in have if k.startswith(prefix) and k not in sd]
    if not missing:
        return sd
    out = dict(sd)
    for k in missing:
        zero = k.endswith(("attn.out_proj.weight", "attn.out_proj.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"))
        out[k] = torch.zeros_like(have[k]) if zero else have[k].detach().clone()
    return out


def train_pairs(world, cfg: TrainConfig):
    """Endless TrainPairs: the world's correct single edits, a share turned into two-operation edits, each
    with `cfg.hard_negatives` wrong instructions (the world's `wrong_instruction`, as the sample uses)."""
    rng = np.random.default_rng([cfg.seed, 1])
    cap_rng = np.random.default_rng([cfg.seed, 3])
    focus_rng = np.random.default_rng([cfg.seed, 4])
    shape_rng = np.random.default_rng([cfg.seed, 5])
    for p in call_iter_pairs(world, cfg.seed, cfg.steps * cfg.batch_size):
        if cfg.p_focus > 0 and cfg.focus_ops and focus_rng.random() < cfg.p_focus:
            p = focus_pair(world, p, cfg.focus_ops, focus_rng)
        two = two_op_pair(world, p, rng) if cfg.p_two_ops > 0 and rng.random() < cfg.p_two_ops else None
        if two is not None:
            e1, e2, target, text, tcap = two
            yield TrainPair(p.source, target, text, p.source_caption, tcap, f"{e1.op}+{e2.op}",
                            wrong_for_edits(world, [e1, e2], rng, cfg.hard_negatives),
                            wrong_captions_for(world, e2.result, cap_rng, cfg.caption_negatives,
                                               cfg.caption_negative_ops))
            continue
        wrong = [w for w in (call_wrong_instruction(world, p, rng) for _ in range(cfg.hard_negatives)) if w]
        if cfg.p_same_shape > 0:  # replace some by same-shape near misses (own stream: the rest stays as it was)
            wrong = [(same_shape_wrong_instruction(world, p, shape_rng) or w)
                     if shape_rng.random() < cfg.p_same_shape else w for w in wrong]
        result = p.edit.result if getattr(p, "edit", None) is not None else None
        yield TrainPair(p.source, p.target, p.instruction, p.source_caption, p.target_caption, p.op, wrong,
                        wrong_captions_for(world, result, cap_rng, cfg.caption_negatives,
                                           cfg.caption_negative_ops))


def make_batches(world, preprocess, cfg: TrainConfig):
    """Batches of (source images, target images, instructions, source captions, target captions, wrong
    instructions) from `train_pairs`."""
    aug_rng = np.random.default_rng([cfg.seed, 2])
    stream = train_pairs(world, cfg)
    while True:
        pairs = list(itertools.islice(stream, cfg.batch_size))
        if len(pairs) < cfg.batch_size:
            raise RuntimeError("the world generator ran dry")
        images = [augment(p, aug_rng, cfg.p_jpeg) for p in pairs]
        yield (image_batch(preprocess, [im[0] for im in images]),
               image_batch(preprocess, [im[1] for im in images]),
               [p.instruction for p in pairs], [p.source_caption for p in pairs],
               [p.target_caption for p in pairs], [w for p in pairs for w in p.wrong],
               [c for p in pairs for c in p.wrong_captions])


def batch_texts_tokens(batch, tokens: TokenCache) -> tuple[torch.Tensor, torch.Tensor]:
    """The token rows `losses` needs for a batch: captions (source, target, near-miss) and short texts
    (instructions, wrong instructions), in that order. Data workers compute them: tokenising ~2,500 fresh texts
    per batch of 256 takes the training process ~0.2 s, longer than a GPU step."""
    _, _, instr, scap, tcap, wrong, wcaps = batch[:7]
    return tokens(scap + tcap + list(wcaps)), tokens(instr + list(wrong))


def worker_seed(seed: int, worker: int) -> int:
    """The world seed of data process `worker` in a run seeded `seed` (no overlap with small hand-picked seeds)."""
    return int(np.random.SeedSequence([seed, 0xDA7A, worker]).generate_state(1)[0])


class WorkerBatches(torch.utils.data.IterableDataset):
    """`make_batches` in each DataLoader worker, worker k drawing its own stream seeded `worker_seed(seed, k)`;
    the DataLoader takes the workers' batches in turn, so a run is as deterministic as with one stream."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        k, n = (info.id, info.num_workers) if info is not None else (0, 1)
        torch.set_num_threads(1)
        cfg = replace(self.cfg, seed=worker_seed(self.cfg.seed, k), steps=-(-self.cfg.steps // n) + 1)
        import open_clip

        tiny.register()
        tokens = TokenCache(open_clip.get_tokenizer(tiny.MODEL_NAME))
        for batch in make_batches(load_world(cfg.world), tiny.preprocess(), cfg):
            yield (*batch, *batch_texts_tokens(batch, tokens))
            if len(tokens.cache) > 200_000:  # fresh texts every batch: keep the cache from growing without end
                tokens.cache.clear()


def batch_source(world, preprocess, cfg: TrainConfig):
    """The run's batches: drawn in this process (workers 0) or by `cfg.workers` DataLoader processes."""
    if cfg.workers <= 0:
        return make_batches(world, preprocess, cfg)
    loader = torch.utils.data.DataLoader(WorkerBatches(cfg), batch_size=None, num_workers=cfg.workers,
                                         prefetch_factor=4, pin_memory=cfg.device.startswith("cuda"),
                                         persistent_workers=False)
    return iter(loader)


def save_weights(model, path: Path, metadata: dict) -> None:
    from safetensors.torch import save_file

    sd = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(sd, str(tmp), metadata={k: str(v) for k, v in metadata.items()})
    tmp.replace(path)


def train(cfg: TrainConfig):
    import open_clip

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    # CUDA: warn rather than stop where an op has no deterministic kernel
    torch.use_deterministic_algorithms(True, warn_only=cfg.device.startswith("cuda"))
    if cfg.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    tiny.register()
    model = open_clip.create_model(tiny.MODEL_NAME, device="cpu")
    init_sha = None
    if cfg.init is not None:
        import hashlib

        from safetensors.torch import load_file

        sd = adapt_depth(adapt_patch_embedding({k: v.float() for k, v in load_file(str(cfg.init)).items()}, model),
                         model)
        model.load_state_dict(sd, strict=True)
        init_sha = hashlib.sha256(Path(cfg.init).read_bytes()).hexdigest()
    model.to(cfg.device)
    model.train()
    preprocess = tiny.preprocess()
    tokens = TokenCache(open_clip.get_tokenizer(tiny.MODEL_NAME))
    dir_scale = torch.nn.Parameter(torch.tensor(math.log(10.0), device=cfg.device))
    sig = (torch.nn.Parameter(torch.tensor(math.log(10.0), device=cfg.device)),
           torch.nn.Parameter(torch.tensor(-5.0, device=cfg.device)))

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay + [dir_scale, *sig], "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)

    world = load_world(cfg.world)
    batches = batch_source(world, preprocess, cfg)
    meta = {k: v for k, v in asdict(cfg).items() if k not in ("out", "init", "device", "save_every")}
    if init_sha:
        meta["init_sha256"] = init_sha
    # no timings, paths or device in the file: the same settings give the same file on the same hardware
    meta.update(torch=torch.__version__, open_clip=open_clip.__version__)
    t0 = time.time()
    running: dict[str, float] = {}
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        out = losses(model, dir_scale, next(batches), tokens, cfg, sig)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + [dir_scale, *sig], 1.0)
        opt.step()
        for k, v in out.items():
            running[k] = running.get(k, 0.0) + v.detach()  # no GPU sync per step
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            msg = " ".join(f"{k}={float(v) / cfg.log_every:.3f}" for k, v in running.items())
            print(f"step {step + 1}/{cfg.steps} {msg} lr={lr_at(step, cfg):.2e} "
                  + (f"sig_cos_threshold={-float(sig[1].detach()) / float(sig[0].detach().exp()):.3f} "
                     if cfg.w_instruction_sigmoid > 0 else "")
                  + f"t={time.time() - t0:.0f}s", flush=True)
            running = {}
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            save_weights(model, Path(cfg.out), {"editlens_tiny_training": json.dumps({**meta, "steps_done": step + 1})})
            print(f"checkpoint {cfg.out} at step {step + 1}", flush=True)
    elapsed = time.time() - t0
    model.eval()
    save_weights(model, Path(cfg.out), {"editlens_tiny_training": json.dumps(meta)})
    print(f"saved {cfg.out} ({Path(cfg.out).stat().st_size / 1e6:.2f} MB) after {elapsed:.0f}s", flush=True)
    return model, elapsed


def parse_args(argv=None) -> TrainConfig:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m training.tiny.train", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--w-caption", type=float, default=d.w_caption)
    ap.add_argument("--w-instruction", type=float, default=d.w_instruction)
    ap.add_argument("--w-caption-direction", type=float, default=d.w_caption_direction)
    ap.add_argument("--w-instruction-sigmoid", type=float, default=d.w_instruction_sigmoid,
                    help="weight of a pairwise sigmoid instruction-directional loss (calibrates one threshold)")
    ap.add_argument("--hard-negatives", type=int, default=d.hard_negatives,
                    help="wrong instructions per pair used as extra negatives (0: in-batch negatives only)")
    ap.add_argument("--caption-negatives", type=int, default=d.caption_negatives,
                    help="near-miss captions per pair (other shape edits of the target) as caption negatives")
    ap.add_argument("--caption-negative-ops", default=",".join(d.caption_negative_ops),
                    help="the edits that make the near-miss captions (default: move,replace,resize,recolor)")
    ap.add_argument("--init", type=Path, default=None, help="continue from these weights (safetensors)")
    ap.add_argument("--focus-ops", default=",".join(d.focus_ops),
                    help="comma-separated operations drawn more often (e.g. move,replace)")
    ap.add_argument("--p-focus", type=float, default=d.p_focus,
                    help="share of pairs whose edit is redrawn from --focus-ops on the same source")
    ap.add_argument("--p-same-shape", type=float, default=d.p_same_shape,
                    help="share of an object edit's wrong instructions drawn as another operation on the same shape")
    ap.add_argument("--p-two-ops", type=float, default=d.p_two_ops, help="share of two-operation edits")
    ap.add_argument("--p-jpeg", type=float, default=d.p_jpeg, help="share of pairs seen as JPEGs")
    ap.add_argument("--world", default=d.world, help="module providing iter_pairs (default: shapes world)")
    ap.add_argument("--out", type=Path, default=d.out)
    ap.add_argument("--log-every", type=int, default=d.log_every)
    ap.add_argument("--device", default=d.device, help="cpu (default) or cuda")
    ap.add_argument("--workers", type=int, default=d.workers,
                    help="data processes, each drawing its own seeded stream (0: one stream in this process)")
    ap.add_argument("--save-every", type=int, default=d.save_every, help="also write --out every N steps")
    a = ap.parse_args(argv)
    return TrainConfig(seed=a.seed, steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup_steps=a.warmup_steps,
                       threads=a.threads,
                       w_caption=a.w_caption, w_instruction=a.w_instruction,
                       w_caption_direction=a.w_caption_direction,
                       w_instruction_sigmoid=a.w_instruction_sigmoid, hard_negatives=a.hard_negatives,
                       p_two_ops=a.p_two_ops, p_jpeg=a.p_jpeg, caption_negatives=a.caption_negatives,
                       caption_negative_ops=tuple(o for o in a.caption_negative_ops.split(",") if o),
                       init=a.init, focus_ops=tuple(o for o in a.focus_ops.split(",") if o),
                       p_focus=a.p_focus, p_same_shape=a.p_same_shape,
                       world=a.world, out=a.out, log_every=a.log_every, device=a.device, workers=a.workers,
                       save_every=a.save_every)


def main(argv=None) -> int:
    cfg = parse_args(argv)
    try:
        load_world(cfg.world)
    except ImportError as e:
        print(f"error: cannot import the shapes world {cfg.world!r}: {e}", file=sys.stderr)
        return 2
    train(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
