"""The instruction core: framing phrases removed by the editable patterns in embeddings/instruction_frames.csv."""

from __future__ import annotations

import pytest

from editlens.contract.errors import UnusableInput
from editlens.embeddings.frames import InstructionFrames


def test_default_frames_strip_lead_and_tail_phrases_only():
    f = InstructionFrames.load()
    cases = {
        "In this image, turn the orange arrow into a diamond, keeping every other element of the image unchanged.":
            "turn the orange arrow into a diamond",
        "For this picture, replace the heart with a pentagon, with no other changes.": "replace the heart with a pentagon",
        "Edit the image as follows: make the sky blue while leaving the rest of the composition exactly as it is.":
            "make the sky blue",
        "Move the star left, and preserve the remaining shapes and their positions.": "Move the star left",
        "Remove the watermark without changing anything else.": "Remove the watermark",
        "IN THE PHOTO: brighten it": "brighten it",
        # no frame: unchanged, including requests that use the same words
        "Make the cat leave the room.": "Make the cat leave the room.",
        "Keep the dog but remove the cat": "Keep the dog but remove the cat",
        "Could you push the yellow dot downward?": "Could you push the yellow dot downward?",
        "Add a photo of this image to the wall": "Add a photo of this image to the wall",
        # nothing left but the frame: the whole instruction
        "In this image,": "In this image,",
    }
    texts = list(cases) + [None]
    assert f.cores(texts) == list(cases.values()) + [None]


def test_frames_file_errors_are_clear(tmp_path):
    with pytest.raises(UnusableInput, match="not found"):
        InstructionFrames.load(tmp_path / "nope.csv")
    bad_pos = tmp_path / "pos.csv"
    bad_pos.write_text("position,pattern\nmiddle,foo\n")
    with pytest.raises(UnusableInput, match="lead or tail"):
        InstructionFrames.load(bad_pos)
    bad_re = tmp_path / "re.csv"
    bad_re.write_text('position,pattern\nlead,"(unclosed"\n')
    with pytest.raises(UnusableInput, match="does not compile") as e:
        InstructionFrames.load(bad_re)
    assert e.value.exit_code == 2
    cols = tmp_path / "cols.csv"
    cols.write_text("where,regex\nlead,x\n")
    with pytest.raises(UnusableInput, match="columns"):
        InstructionFrames.load(cols)


def test_no_frames_means_the_whole_instruction(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("position,pattern\n")
    f = InstructionFrames.load(empty)
    assert f.core_sql("instruction") == "instruction"
    assert f.cores(["In this image, add a hat."]) == ["In this image, add a hat."]
