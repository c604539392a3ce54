import os
import sys
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
