"""Train the learned part of the instruction taxonomy and write it as three dbt seeds.

The taxonomy rules (seeds/taxonomy_rules.csv) label every instruction; for the labels the rules get most wrong
(`MODEL_LABELS`: object-adjustment, object-reposition, overall-adjustment) a one-vs-rest logistic regression
decides instead. Its inputs per distinct normalised instruction:
  words   TF-IDF of word unigrams and bigrams (words: runs of a-z in the lower-cased instruction; tf = 1 + ln(count),
          idf = ln((1 + n) / (1 + df)) + 1, features seen in at least `MIN_DF` training instructions; the vector
          scaled to unit length), as scikit-learn's TfidfVectorizer(sublinear_tf=True) computes them;
  rules   the rules' labels, one input of value `RULE_WEIGHT` per label they gave.
score = intercept + words . w + rules . v; the label is given when score > its threshold. An instruction left with
no label at all gets the model label of highest score - threshold. Thresholds are chosen per label on out-of-fold
scores of the training data (4 grouped folds), never on the records scored.

Written (the dbt models score them: int_instruction_label_scores, int_instruction_labels_derived):
  seeds/taxonomy_model_vocabulary.csv   feature, idf
  seeds/taxonomy_model_weights.csv      label, feature, weight   (feature `rule:<label>` for the rules' inputs;
                                                                  weights rounded to 4 decimals, zeros dropped)
  seeds/taxonomy_model_labels.csv       label, intercept, threshold

The training data is SEED-Data-Edit Part-2 (`task_type` labels, JSON lines); the rules' labels come from the
real dbt models (bench/bench_taxonomy.py's throw-away warehouse). Needs scikit-learn.

    python -m training.taxonomy_model [--data PATH] [--out seeds/]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "seed-part2-dev.jsonl"
MODEL_LABELS = ("object-adjustment", "object-reposition", "overall-adjustment")
MIN_DF = 2
RULE_WEIGHT = 3.0
C = 4.0
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(-3.0, 3.001, 0.25))
INNER_FOLDS = 4
SEED = 7
VOCABULARY, WEIGHTS, LABELS = "taxonomy_model_vocabulary.csv", "taxonomy_model_weights.csv", "taxonomy_model_labels.csv"


def norm(text: str | None) -> str:
    """The normalised instruction, as stg_editlens__edits makes `instruction_norm`."""
    t = (text or "").replace("\u2019", "'").replace("\u2018", "'").lower()
    return re.sub(r"\s+", " ", t).strip()


def grams(text_norm: str) -> list[str]:
    """Word unigrams and bigrams of a normalised instruction (as int_instruction_label_scores makes them)."""
    w = re.findall(r"[a-z]+", text_norm)
    return w + [f"{a} {b}" for a, b in itertools.pairwise(w)]


@dataclass
class TaxonomyModel:
    """The shipped model: idf per feature, weights per (label, feature), intercept and threshold per label."""

    idf: dict[str, float]
    weights: dict[str, dict[str, float]]
    intercept: dict[str, float]
    threshold: dict[str, float] = field(default_factory=dict)

    def scores(self, text_norm: str, rule_labels: set[str]) -> dict[str, float]:
        """score per model label, exactly as the dbt models compute it."""
        counts: dict[str, int] = {}
        for g in grams(text_norm):
            if g in self.idf:
                counts[g] = counts.get(g, 0) + 1
        x = {g: (1.0 + math.log(n)) * self.idf[g] for g, n in counts.items()}
        length = math.sqrt(sum(v * v for v in x.values()))
        out = {}
        for lab in self.intercept:
            w = self.weights.get(lab, {})
            s = self.intercept[lab] + sum(w.get(g, 0.0) * v / length for g, v in x.items()) if length else \
                self.intercept[lab]
            out[lab] = s + sum(w.get(f"rule:{r}", 0.0) for r in rule_labels)
        return out

    def labels(self, text_norm: str, rule_labels: set[str]) -> set[str]:
        """Final labels: the rules' outside the model labels, the model's decision on its own labels."""
        s = self.scores(text_norm, rule_labels)
        out = {r for r in rule_labels if r not in self.intercept} | {
            lab for lab, v in s.items() if v > self.threshold[lab]}
        return out or {max(s, key=lambda lab: (s[lab] - self.threshold[lab], lab))}

    # --- seeds
    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / VOCABULARY, "w", newline="", encoding="utf-8") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["feature", "idf"])
            wr.writerows([g, f"{v:.6f}"] for g, v in sorted(self.idf.items()))
        with open(out / WEIGHTS, "w", newline="", encoding="utf-8") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["label", "feature", "weight"])
            for lab in sorted(self.weights):
                wr.writerows([lab, g, f"{v:.4f}"] for g, v in sorted(self.weights[lab].items()))
        with open(out / LABELS, "w", newline="", encoding="utf-8") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["label", "intercept", "threshold"])
            wr.writerows([lab, f"{self.intercept[lab]:.4f}", f"{self.threshold[lab]:.2f}"]
                         for lab in sorted(self.intercept))

    @classmethod
    def read(cls, seeds: Path) -> TaxonomyModel:
        def rows(name):
            with open(seeds / name, newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))
        weights: dict[str, dict[str, float]] = {}
        for r in rows(WEIGHTS):
            weights.setdefault(r["label"], {})[r["feature"]] = float(r["weight"])
        labs = rows(LABELS)
        return cls({r["feature"]: float(r["idf"]) for r in rows(VOCABULARY)}, weights,
                   {r["label"]: float(r["intercept"]) for r in labs}, {r["label"]: float(r["threshold"]) for r in labs})


# ---------------------------------------------------------------------------------------------------------
# training


def _fit_raw(texts: list[str], rules: list[set[str]], gold: list[set[str]]) -> TaxonomyModel:
    """Fit idf and weights (rounded as shipped) on these instructions; thresholds left empty."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=grams, min_df=MIN_DF, sublinear_tf=True)
    x_words = vec.fit_transform(texts)
    rule_names = sorted({r for rs in rules for r in rs})
    x_rules = csr_matrix(np.array([[RULE_WEIGHT * (r in rs) for r in rule_names] for rs in rules], dtype=float)
                         .reshape(len(texts), len(rule_names)))
    x = hstack([x_words, x_rules]).tocsr()
    names = list(vec.get_feature_names_out()) + [f"rule:{r}" for r in rule_names]
    scale = np.array([1.0] * x_words.shape[1] + [RULE_WEIGHT] * len(rule_names))
    weights, intercept = {}, {}
    for lab in MODEL_LABELS:
        y = np.array([lab in g for g in gold])
        m = LogisticRegression(C=C, solver="liblinear").fit(x, y)
        coef = np.round(m.coef_[0] * scale, 4)
        weights[lab] = {n: float(c) for n, c in zip(names, coef) if c != 0.0}
        intercept[lab] = round(float(m.intercept_[0]), 4)
    idf = {n: round(float(v), 6) for n, v in zip(vec.get_feature_names_out(), vec.idf_)}
    return TaxonomyModel(idf, weights, intercept)


def micro_f1(gold: list[set[str]], pred: list[set[str]]) -> tuple[int, int, int, float, float, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    fp = sum(len(p - g) for g, p in zip(gold, pred))
    fn = sum(len(g - p) for g, p in zip(gold, pred))
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return tp, fp, fn, p, r, 2 * p * r / max(1e-12, p + r)


def grouped_folds(texts: list[str], k: int, seed: int):
    """k folds of indices, every copy of one normalised instruction in one fold (scikit-learn GroupKFold)."""
    from sklearn.model_selection import GroupKFold

    idx = np.arange(len(texts))
    return list(GroupKFold(k, shuffle=True, random_state=seed).split(idx, groups=texts))


def _choose_thresholds(scores: list[dict[str, float]], rules: list[set[str]], gold: list[set[str]]) -> dict:
    """Per model label, the grid threshold giving the best micro-F1 of the final labels (two coordinate passes)."""
    t = dict.fromkeys(MODEL_LABELS, 0.0)
    fixed = [{r for r in rs if r not in MODEL_LABELS} for rs in rules]

    def f1(th):
        pred = []
        for s, fx in zip(scores, fixed):
            p = fx | {lab for lab, v in s.items() if v > th[lab]}
            pred.append(p or {max(s, key=lambda lab: (s[lab] - th[lab], lab))})
        return micro_f1(gold, pred)[5]

    for _ in range(2):
        for lab in MODEL_LABELS:
            best = (-1.0, 0.0)
            for g in THRESHOLD_GRID:
                f = f1({**t, lab: g})
                if f > best[0] + 1e-12:
                    best = (f, g)
            t[lab] = best[1]
    return t


def fit(texts: list[str], rules: list[set[str]], gold: list[set[str]]) -> TaxonomyModel:
    """The whole recipe on these records: thresholds from INNER_FOLDS grouped out-of-fold scores, then the
    weights refitted on all of them."""
    oof: list[dict[str, float]] = [{} for _ in texts]
    for tr, te in grouped_folds(texts, INNER_FOLDS, SEED):
        m = _fit_raw([texts[i] for i in tr], [rules[i] for i in tr], [gold[i] for i in tr])
        for i in te:
            oof[i] = m.scores(texts[i], rules[i])
    model = _fit_raw(texts, rules, gold)
    model.threshold = {k: float(v) for k, v in _choose_thresholds(oof, rules, gold).items()}
    return model


def load_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_data(records: list[dict]) -> tuple[list[str], list[set[str]], list[set[str]]]:
    """(normalised instructions, the rules' labels from the dbt models, human labels) per record."""
    sys.path.insert(0, str(REPO / "bench"))
    from bench_taxonomy import build_labels

    rules: dict[str, set] = {}
    gold, _, _ = build_labels(records, rules_only=rules)
    keys = [f"{i:016x}" for i in range(len(records))]
    return [norm(r.get("instruction")) for r in records], [rules.get(k, set()) for k in keys], [gold[k] for k in keys]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=REPO / "seeds")
    a = ap.parse_args(argv)
    if not a.data.is_file():
        print(f"{a.data} not found", file=sys.stderr)
        return 2
    texts, rules, gold = training_data(load_records(a.data))
    model = fit(texts, rules, gold)
    model.write(a.out)
    n_w = sum(len(w) for w in model.weights.values())
    print(f"trained on {len(texts)} records: {len(model.idf)} features, {n_w} weights; thresholds {model.threshold}")
    print(f"wrote {a.out / VOCABULARY}, {a.out / WEIGHTS}, {a.out / LABELS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
