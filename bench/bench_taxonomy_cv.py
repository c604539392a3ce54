"""Can a learned classifier beat the taxonomy rules? 5-fold cross-validated micro-F1 on SEED Part-2 labels.

Reads ../shared/data/seed-part2-dev.jsonl, derives the rules' labels through the real dbt models (as
bench_taxonomy.py does), and scores with the same 5 folds (scikit-learn KFold, shuffled, random_state 16):
  rules      the taxonomy_rules seed alone (nothing trained: its figure is the plain micro-F1);
  text       one-vs-rest logistic regression (liblinear, C) on binary word unigrams and bigrams, each instruction's
             vector scaled to unit length, a label given when its score > 0 (else the best-scoring label);
  stacked    the same with the rules' labels as extra features (value 1);
  union      the rules' labels plus the text classifier's labels scoring above --union-threshold.
Prints micro P/R/F1 of each and per-label precision/recall of the best. The rules were written reading this
file, so their figure (and the stacked and union ones, which contain them) is not an unseen-data estimate; the
text classifier's is. Skips (exit 0) when the file is absent; needs scikit-learn.

    .venv/bin/python bench/bench_taxonomy_cv.py [--data PATH] [--C 4] [--union-threshold 1.0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_taxonomy import DEFAULT_DATA, build_labels, score


def features(text: str, rule_labels: set[str] | None) -> dict[str, float]:
    words = re.findall(r"[a-z]+", text.lower())
    grams = {f"w:{w}" for w in words} | {f"b:{a} {b}" for a, b in itertools.pairwise(words)}
    out = {g: 1 / np.sqrt(len(grams)) for g in grams}
    for lab in rule_labels or ():
        out[f"r:{lab}"] = 1.0
    return out


def cv_scores(feats: list[dict[str, float]], gold: list[set[str]], labels: list[str], c: float) -> np.ndarray:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    y = np.array([[lab in g for lab in labels] for g in gold])
    s = np.full((len(feats), len(labels)), -9.0)
    for train, test in KFold(5, shuffle=True, random_state=16).split(feats):
        vocab: dict[str, int] = {}
        for i in train:
            for k in feats[i]:
                vocab.setdefault(k, len(vocab))

        def matrix(idx, vocab=vocab):
            r, c_, v = [], [], []
            for j, i in enumerate(idx):
                for k, x in feats[i].items():
                    if k in vocab:
                        r.append(j)
                        c_.append(vocab[k])
                        v.append(x)
            return csr_matrix((v, (r, c_)), shape=(len(idx), len(vocab)))

        x_train, x_test = matrix(train), matrix(test)
        for li in range(len(labels)):
            if y[train, li].any():
                m = LogisticRegression(C=c, max_iter=2000, solver="liblinear").fit(x_train, y[train, li])
                s[test, li] = x_test @ m.coef_[0] + m.intercept_[0]
    return s


def decide(s: np.ndarray, labels: list[str], threshold: float = 0.0) -> list[set[str]]:
    return [{labels[k] for k in np.where(row > threshold)[0]} or {labels[int(np.argmax(row))]} for row in s]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--C", type=float, default=4.0)
    ap.add_argument("--union-threshold", type=float, default=1.0)
    a = ap.parse_args(argv)
    if not a.data.is_file():
        print(f"skipped: {a.data} not found")
        return 0
    records = [json.loads(line) for line in a.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    gold_d, rules_d, _ = build_labels(records)
    keys = [f"{i:016x}" for i in range(len(records))]
    gold = [gold_d[k] for k in keys]
    rules = [rules_d[k] for k in keys]
    labels = sorted({lab for g in gold for lab in g})
    texts = [r.get("instruction") or "" for r in records]
    s_text = cv_scores([features(t, None) for t in texts], gold, labels, a.C)
    s_stacked = cv_scores([features(t, r) for t, r in zip(texts, rules)], gold, labels, a.C)
    text = decide(s_text, labels)
    union = [r | {labels[k] for k in np.where(row > a.union_threshold)[0]} or {labels[int(np.argmax(row))]}
             for r, row in zip(rules, s_text)]
    results = {"rules": rules, "text": text, "stacked": decide(s_stacked, labels), "union": union}
    print(f"data: {a.data} ({len(records)} instructions, {sum(map(len, gold))} human labels, {len(labels)} labels); "
          f"5 folds, KFold(shuffle=True, random_state=16), C={a.C}")
    best = None
    for name, pred in results.items():
        per, (tp, fp, fn, p, r, f1) = score(dict(zip(keys, gold)), dict(zip(keys, pred)))
        print(f"{name:8s} tp={tp} fp={fp} fn={fn} P={p:.4f} R={r:.4f} micro-F1={f1:.4f}")
        if best is None or f1 > best[0]:
            best = (f1, name, per)
    f1, name, per = best
    print(f"per label ({name}):")
    print(f"{'label':34s} {'n':>5s} {'tp':>5s} {'fp':>5s} {'fn':>5s} {'P':>6s} {'R':>6s}")
    for lab, (t, f_p, f_n) in sorted(per.items(), key=lambda kv: -(kv[1][0] + kv[1][2])):
        print(f"{lab:34s} {t + f_n:5d} {t:5d} {f_p:5d} {f_n:5d} {t / max(1, t + f_p):6.3f} {t / max(1, t + f_n):6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
