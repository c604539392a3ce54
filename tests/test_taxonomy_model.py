"""The learned taxonomy model's trainer (training/taxonomy_model.py) on a small corpus the test writes itself."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("sklearn")

from training import taxonomy_model as T  # noqa: E402

OBJECTS = ["dog", "cat", "car", "tree", "lamp", "boat", "chair", "bird", "hat", "cup"]


def corpus(n: int = 120, seed: int = 3):
    rnd = random.Random(seed)
    texts, rules, gold = [], [], []
    for i in range(n):
        obj = rnd.choice(OBJECTS)
        kind = i % 3
        if kind == 0:
            texts.append(f"enlarge the {obj} a little"), gold.append({"object-adjustment"})
        elif kind == 1:
            texts.append(f"move the {obj} to the left"), gold.append({"object-reposition"})
        else:
            texts.append(f"crop the picture around the {obj}"), gold.append({"overall-adjustment"})
        # the rules: always background-replace (kept), and a wrong object-adjustment on every crop
        rules.append({"background-replace"} | ({"object-adjustment"} if kind == 2 else set()))
        gold[-1].add("background-replace")
        texts[-1] = T.norm(f"Replace the background,  {texts[-1]}" + (f" #{i}" if i % 7 == 0 else ""))
    return texts, rules, gold


def test_normalisation_and_grams_match_the_sql():
    assert T.norm("  Move the  Dog’s\tTAIL ") == "move the dog's tail"
    assert T.grams("move the dog's tail") == ["move", "the", "dog", "s", "tail",
                                               "move the", "the dog", "dog s", "s tail"]
    assert T.grams("") == []


def test_fit_learns_the_model_labels_and_keeps_the_rules_elsewhere():
    texts, rules, gold = corpus()
    m = T.fit(texts, rules, gold)
    assert set(m.intercept) == set(m.threshold) == set(T.MODEL_LABELS)
    pred = [m.labels(t, r) for t, r in zip(texts, rules)]
    assert T.micro_f1(gold, pred)[5] == 1.0
    assert T.micro_f1(gold, rules)[5] < 0.8  # the rules alone are wrong on the crops
    # unseen objects: the words of the request decide, the rules' other labels stay
    seen = {"background-replace", "text-add"}
    assert m.labels(T.norm("Enlarge the piano a little"), seen) == seen | {"object-adjustment"}
    assert m.labels(T.norm("crop the picture around the piano"), seen | {"object-adjustment"}) == \
        seen | {"overall-adjustment"}
    # nothing passes: the model label nearest its threshold
    hand = T.TaxonomyModel({"dog": 1.0}, {"object-reposition": {"dog": 1.0}}, {"object-adjustment": -1.0,
                           "object-reposition": -1.0}, {"object-adjustment": 0.5, "object-reposition": 0.5})
    assert hand.scores("dog dog", set()) == {"object-adjustment": -1.0, "object-reposition": 0.0}
    assert hand.labels("dog dog", set()) == {"object-reposition"}
    assert hand.labels("cat", {"object-add"}) == {"object-add"}


def test_seeds_round_trip(tmp_path):
    texts, rules, gold = corpus()
    m = T.fit(texts, rules, gold)
    m.write(tmp_path)
    back = T.TaxonomyModel.read(tmp_path)
    assert back.threshold == m.threshold and back.intercept == m.intercept
    assert back.weights == m.weights and back.idf == m.idf
    head = (tmp_path / T.WEIGHTS).read_text().splitlines()[0]
    assert head == "label,feature,weight"
    for t, r in zip(texts, rules):
        assert back.labels(t, r) == m.labels(t, r)
