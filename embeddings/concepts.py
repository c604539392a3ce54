"""Zero-shot concept scores from an editable prompt set (`embeddings/concepts.csv`: group, concept, prompt).

Several prompts for one (group, concept) are averaged (prompt ensembling: mean of the normalised text
embeddings, normalised again). Scoring per group, with s = model logit scale and c = cosine similarity:

- a group that has a concept named ``neutral`` is a set of independent detectors: each other concept gets
  softmax(s*c_concept, s*c_neutral)[0], the probability of the concept against the neutral description
  (``safety``, ``person``); the neutral concept itself gets no row;
- any other group is one multiple-choice question: softmax over its concepts (``presentation``, ``age``,
  ``skin_tone``), scores sum to 1 per image.

Attribute groups describe *perceived* presentation / age / skin tone of a person, only meaningful where the
``person`` score is high; dbt compares source vs target to measure the shift an edit causes.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract.errors import UnusableInput
from editlens.embeddings import tables as T
from editlens.embeddings.models import ModelSpec
from editlens.warehouse import Warehouse

DEFAULT_CONCEPTS = Path(__file__).resolve().parent / "concepts.csv"
NEUTRAL = "neutral"


@dataclass(frozen=True)
class ConceptSet:
    groups: tuple[str, ...]          # group per (group, concept) column, in file order
    concepts: tuple[str, ...]
    prompts: tuple[tuple[str, ...], ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> ConceptSet:
        path = Path(path) if path else DEFAULT_CONCEPTS
        if not path.is_file():
            raise UnusableInput(f"concepts file not found: {path}")
        seen: dict[tuple[str, str], list[str]] = {}
        with open(path, newline="", encoding="utf-8") as fh:
            rd = csv.DictReader(fh)
            if not rd.fieldnames or not {"group", "concept", "prompt"} <= set(rd.fieldnames):
                raise UnusableInput(f"{path}: needs the columns group, concept, prompt")
            for row in rd:
                g, c, p = (row["group"] or "").strip(), (row["concept"] or "").strip(), (row["prompt"] or "").strip()
                if g and c and p:
                    seen.setdefault((g, c), []).append(p)
        if not seen:
            raise UnusableInput(f"{path}: no prompts")
        keys = list(seen)
        return cls(tuple(k[0] for k in keys), tuple(k[1] for k in keys), tuple(tuple(seen[k]) for k in keys))

    def all_prompts(self) -> list[str]:
        return [p for ps in self.prompts for p in ps]

    def concept_matrix(self, prompt_emb: np.ndarray) -> np.ndarray:
        """(n_prompts, d) normalised prompt embeddings -> (n_concepts, d) ensembled, normalised."""
        out, i = [], 0
        for ps in self.prompts:
            v = prompt_emb[i:i + len(ps)].astype(np.float64).mean(axis=0)
            out.append(v / max(np.linalg.norm(v), 1e-12))
            i += len(ps)
        return np.stack(out).astype(np.float32)

    def score(self, image_emb: np.ndarray, concept_emb: np.ndarray, logit_scale: float):
        """(n, d) image embeddings -> list of (group, concept, scores (n,)) in file order."""
        sims = image_emb.astype(np.float64) @ concept_emb.astype(np.float64).T * float(logit_scale)
        result = []
        by_group: dict[str, list[int]] = {}
        for j, g in enumerate(self.groups):
            by_group.setdefault(g, []).append(j)
        for g, cols in by_group.items():
            names = [self.concepts[j] for j in cols]
            if NEUTRAL in names:
                jn = cols[names.index(NEUTRAL)]
                for j in cols:
                    if j != jn:
                        result.append((g, self.concepts[j], 1.0 / (1.0 + np.exp(sims[:, jn] - sims[:, j]))))
            else:
                z = sims[:, cols]
                z = np.exp(z - z.max(axis=1, keepdims=True))
                z = z / z.sum(axis=1, keepdims=True)
                for k, j in enumerate(cols):
                    result.append((g, self.concepts[j], z[:, k]))
        return result


# ---------------------------------------------------------------------------------------------------------
# the concept stage: image_concepts from stored image embeddings


def prompt_set_id(concepts: ConceptSet) -> str:
    text = "\n".join(f"{g}\t{c}\t{p}" for g, c, ps in zip(concepts.groups, concepts.concepts, concepts.prompts)
                     for p in ps)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def run_concept_stage(wh: Warehouse, spec: ModelSpec, concepts: ConceptSet, concept_emb: np.ndarray) -> int:
    """One `image_concepts` file per `image_embeddings` file of this model and prompt set; files of this model
    made with an older prompt set are removed once the new ones are written."""
    pset = prompt_set_id(concepts)
    prefix = spec.key[:8]
    emb_dir = wh.table_dir(T.IMAGE_EMBEDDINGS)
    written = 0
    if not emb_dir.is_dir():
        return 0
    for f in sorted(emb_dir.glob(f"{prefix}-*.parquet")):
        name = f"{f.stem}-p{pset}"
        if T.part_exists(wh, T.IMAGE_CONCEPTS, name):
            continue
        tbl = pq.read_table(f, filters=[("model_key", "=", spec.key)])
        vecs, _ = T.embedding_matrix(tbl["embedding"], spec.embed_dim)
        shas = tbl["sha256"].to_pylist()
        scored = concepts.score(vecs, concept_emb, spec.logit_scale)
        n = len(shas)
        cols = {
            "sha256": [s for _ in scored for s in shas],
            "concept_group": [g for g, _, _ in scored for _ in range(n)],
            "concept": [c for _, c, _ in scored for _ in range(n)],
            "score": pa.array(np.concatenate([v for _, _, v in scored]) if scored and n else np.zeros(0),
                              type=pa.float32()),
        }
        m = len(cols["sha256"])
        cols.update(model_key=[spec.key] * m, model_name=[spec.name] * m, pretrained=[spec.pretrained] * m,
                    preprocess=[spec.preprocess_str] * m, prompt_set=[pset] * m)
        T.write_part(wh, T.IMAGE_CONCEPTS, name, T.to_table(T.IMAGE_CONCEPTS, cols))
        written += m
    cdir = wh.table_dir(T.IMAGE_CONCEPTS)
    for f in cdir.glob(f"{prefix}-*.parquet"):
        if not f.stem.endswith(f"-p{pset}"):
            f.unlink(missing_ok=True)
    return written
