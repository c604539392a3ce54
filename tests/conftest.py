import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# `make test` runs pytest on a non-editable install with PYTHONSAFEPATH=1, so the product packages come from
# the installed wheel. The checkout is appended, not prepended, to the path: its bench/ and training/ programs
# (not installed) import from it without shadowing the installed packages.
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

# Keep torch from fighting other processes for the CI machine's two cores.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def editlens_bin() -> list[str]:
    return [sys.executable, "-m", "editlens.cli"]


@dataclass
class Pipeline:
    """The bundled sample run through ingest and embed (the default model, editlens-tiny) into a warehouse.

    ``sample`` is the generated sample folder (with ``ground_truth.jsonl`` and ``truth_edits.jsonl``), ``warehouse``
    the warehouse it was ingested and embedded into. ``build()`` runs ``editlens build`` on it once (later calls
    return at once) and fails the calling test when the build fails."""

    root: Path
    n_edits: int
    seed: int
    _built: bool = field(default=False, repr=False)

    @property
    def sample(self) -> Path:
        return self.root / "sample"

    @property
    def warehouse(self):
        from editlens.warehouse import Warehouse

        return Warehouse.at(self.root / "wh")

    def truth(self, name: str = "ground_truth.jsonl") -> list[dict]:
        return [json.loads(line) for line in (self.sample / name).read_text().splitlines() if line.strip()]

    def build(self):
        from editlens.build import run_build

        if not self._built:
            rc = run_build(self.warehouse, ["--quiet"])
            assert rc == 0, f"editlens build failed on {self.warehouse.root} (exit code {rc})"
            self._built = True
        return self.warehouse


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """``pipeline(n_edits, seed) -> Pipeline``: sample -> ingest -> embed, once per (n_edits, seed) and session.

    Tests share the result: read it, never change it (copy what you need to change)."""
    from editlens import sample as sample_mod
    from editlens.embeddings.main import EmbedConfig, run_embed
    from editlens.ingest.main import IngestConfig, run_ingest

    made: dict[tuple[int, int], Pipeline] = {}

    def make(n_edits: int, seed: int) -> Pipeline:
        key = (int(n_edits), int(seed))
        if key not in made:
            p = Pipeline(tmp_path_factory.mktemp(f"pipeline-{key[0]}-{key[1]}"), *key)
            sample_mod.generate(p.sample, n_edits=p.n_edits, seed=p.seed)
            run_ingest(IngestConfig(path=p.sample, warehouse=p.warehouse, workers=1))
            run_embed(EmbedConfig(warehouse=p.warehouse, progress=False, workers=1, threads=1))
            made[key] = p
        return made[key]

    return make


# the dashboards' test marts: this sample built by the real dbt project (small: about a minute on 2 cores)
DASHBOARD_SAMPLE = (300, 7)


@pytest.fixture(scope="session")
def built_warehouse(pipeline) -> Path:
    """Root of a warehouse with marts built by `editlens build` from ``pipeline(*DASHBOARD_SAMPLE)`` (read only)."""
    return pipeline(*DASHBOARD_SAMPLE).build().root


def copy_marts(src: Path, dst: Path, omit: tuple[str, ...] = ()) -> Path:
    """A warehouse folder at ``dst`` holding a copy of ``src``'s exported marts (for tests that change them)."""
    import shutil

    (dst / "marts").mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "marts").glob("*.parquet")):
        if p.stem in omit:
            continue
        if p.is_dir():  # a mart exported per dataset
            shutil.copytree(p, dst / "marts" / p.name, dirs_exist_ok=True)
        else:
            shutil.copy(p, dst / "marts" / p.name)
    return dst
