"""The sample's settings and layout: `SampleConfig`, the `SampleSummary` it returns, the parts' shares, repos,
annotation and image folders, operation and turn weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from editlens.sample.defects import DEFAULT_RATES

JPEG_QUALITY = 90
RECORDS_PER_FILE = 500
PART_SHARES = (("part1-openimages", 0.35), ("part1-unsplash", 0.25), ("part2", 0.20), ("part3", 0.20))
GPT4V_SHARE = 0.2
MULTI_OP_SHARE = 0.25  # Part-2 records carrying two operations
DATASET = "seed-data-edit"

REPO = {
    "part1-openimages": "SEED-Data-Edit-Part1-Openimages",
    "part1-unsplash": "SEED-Data-Edit-Part1-Unsplash",
    "part1-unsplash-gpt4v": "SEED-Data-Edit-Part1-Unsplash",
    "part2": "SEED-Data-Edit-Part2-3",
    "part3": "SEED-Data-Edit-Part2-3",
}
ANN_DIR = {
    "part1-openimages": "auto_editing/openimages/annotations",
    "part1-unsplash": "auto_editing/unsplash/annotations",
    "part1-unsplash-gpt4v": "auto_editing/unsplash/annotations_GPT4V",
    "part2": "real_editing/annotations",
    "part3": "multi_turn_editing/annotations",
}
IMG_ROOT = {
    "part1-openimages": "auto_editing/openimages/images",
    "part1-unsplash": "auto_editing/unsplash/images",
    "part2": "real_editing/images",
    "part3": "multi_turn_editing/images/data",
}
FIRST_SPLIT = {"part1-openimages": 0, "part1-unsplash": 0, "part1-unsplash-gpt4v": 0, "part2": 1, "part3": 1}
OP_WEIGHTS = {
    "part1-openimages": {
        "add": 4.0,
        "remove": 4.0,
        "replace": 1.0,
        "recolor": 0.5,
        "move": 0.5,
        "resize": 0.5,
        "background": 0.5,
        "brightness": 0.3,
        "contrast": 0.3,
        "blur": 0.3,
        "stylize": 0.3,
    },
    "part1-unsplash": {
        "add": 0.5,
        "remove": 0.5,
        "replace": 2.0,
        "recolor": 2.0,
        "move": 0.5,
        "resize": 0.5,
        "background": 2.0,
        "brightness": 1.0,
        "contrast": 1.0,
        "blur": 1.0,
        "stylize": 2.0,
    },
    "part2": None,
    "part3": None,
}
TURN_WEIGHTS = {1: 0.08, 2: 0.25, 3: 0.27, 4: 0.22, 5: 0.18}
IMAGE_DEFECTS = ("truncated_image", "missing_image")
OUTPUTS = (
    "SEED-Data-Edit-Part1-Openimages",
    "SEED-Data-Edit-Part1-Unsplash",
    "SEED-Data-Edit-Part2-3",
    "ground_truth.jsonl",
    "truth_edits.jsonl",
    "sample_manifest.json",
    ".editlensignore",
)


@dataclass(frozen=True)
class SampleConfig:
    out_dir: Path
    n_edits: int = 2000
    seed: int = 0
    rates: dict = field(default_factory=lambda: dict(DEFAULT_RATES))
    min_per_defect: int = 3  # floor per defect kind once n_edits >= 100
    records_per_file: int = RECORDS_PER_FILE  # annotation lines per split_NNNN.jsonl


@dataclass
class SampleSummary:
    out_dir: Path
    seed: int
    n_edits: int
    edits_per_part: dict[str, int]
    records_per_part: dict[str, int]
    files_per_part: dict[str, int]
    gpt4v_rewrites: int
    sessions: int
    defects: dict[str, int]
    images_written: int

    @property
    def defective_edits(self) -> int:
        return sum(self.defects.values())

    def describe(self) -> str:
        lines = [
            f"sample written to {self.out_dir} (seed {self.seed}): {self.n_edits} edits, "
            f"{self.images_written} images, {self.defective_edits} injected defects (one per edit or line)"
        ]
        for part, n in self.edits_per_part.items():
            extra = f" in {self.sessions} sessions" if part == "part3" else ""
            lines.append(
                f"  {part:<18} {n:>6} edits, {self.records_per_part[part]:>6} records{extra}, "
                f"{self.files_per_part[part]} file(s)"
            )
        lines.append(
            f"  {'part1-unsplash-gpt4v':<18} {self.gpt4v_rewrites:>6} rewritten instructions (extra rows)"
        )
        lines.append("  defects: " + ", ".join(f"{k} {v}" for k, v in self.defects.items()))
        lines.append("  ground truth: ground_truth.jsonl, truth_edits.jsonl, sample_manifest.json")
        return "\n".join(lines)
