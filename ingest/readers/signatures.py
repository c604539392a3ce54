"""Parquet column signatures: which dataset (and variant) a Parquet file is, from its whole column set.

One ``Signature`` per dataset/variant, written once in ``SIGNATURES``. A file matches a signature when it has
every ``required`` column and every column of ``images`` holds images (HF ``struct<bytes, path>`` or plain
``binary``); extra columns are allowed (kept in ``extra``). When several signatures match, the one with the most
required columns wins (Emu Edit generations over the Emu Edit test set, UltraEdit region-based over free-form);
a tie or no match is "unplaced": the file is listed with its columns, never filed under another format.
Detection calls ``match_columns`` / ``match_file``; readers call ``missing_required`` so that a file forced
into a format it lacks columns of is one file-level reject.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Signature:
    reader: str  # the format name (editlens.ingest.formats)
    dataset: str
    part: str
    required: frozenset  # every one must be present
    images: frozenset = frozenset()  # required columns that must hold images
    optional: frozenset = frozenset()  # known, read when present


def _sig(reader, dataset, part, required, images=(), optional=()) -> Signature:
    return Signature(reader, dataset, part, frozenset(required), frozenset(images), frozenset(optional))


SIGNATURES: tuple[Signature, ...] = (
    # InstructPix2Pix, timbrooks/instructpix2pix-clip-filtered
    _sig("ip2p-parquet", "instructpix2pix", "hf-parquet",
         ("original_image", "edited_image", "edit_prompt"), ("original_image", "edited_image"),
         ("original_prompt", "edited_prompt")),
    # MagicBrush, osunlp/MagicBrush
    _sig("magicbrush-parquet", "magicbrush", "hf-parquet",
         ("img_id", "turn_index", "source_img", "target_img", "instruction"), ("source_img", "target_img"),
         ("mask_img",)),
    # HQ-Edit, UCSC-VLAA/HQ-Edit
    _sig("hqedit-parquet", "hq-edit", "hf-parquet",
         ("input_image", "output_image", "edit", "inverse_edit"), ("input_image", "output_image"),
         ("input", "output")),
    # UltraEdit free-form (BleachNick/UltraEdit, UltraEdit_500k): mask_image, edit_object absent or all-null
    _sig("ultraedit-parquet", "ultraedit", "freeform",
         ("source_image", "edited_image", "edit_prompt", "clip_sim_source", "clip_sim_target", "clip_sim_dir",
          "clip_sim_image", "dinov2_sim", "ssim"), ("source_image", "edited_image"),
         ("source_caption", "target_caption", "idx", "edit_object", "mask_image")),
    # UltraEdit region-based (BleachNick/UltraEdit_Region_Based_100k): a real mask_image column
    _sig("ultraedit-parquet", "ultraedit", "region-based",
         ("source_image", "edited_image", "mask_image", "edit_prompt", "edit_object", "clip_sim_source",
          "clip_sim_target", "clip_sim_dir", "clip_sim_image", "dinov2_sim", "ssim"),
         ("source_image", "edited_image", "mask_image"), ("source_caption", "target_caption", "idx")),
    # OmniEdit, TIGER-Lab/OmniEdit-Filtered-1.2M
    _sig("omniedit-parquet", "omniedit", "filtered-1.2m",
         ("omni_edit_id", "task", "src_img", "edited_img", "edited_prompt_list"), ("src_img", "edited_img"),
         ("width", "height", "sc_score_1", "sc_score_2", "sc_reasoning", "pq_score", "pq_reasoning", "o_score")),
    # AnyEdit, Bin1117/AnyEdit
    _sig("anyedit-parquet", "anyedit", "hf-parquet",
         ("image_id", "edit_instruction", "edit_type", "image_file", "edited_file"), ("image_file", "edited_file"),
         ("visual_input", "input", "output")),
    # Emu Edit test set, facebook/emu_edit_test_set: no target image
    _sig("emu-edit-parquet", "emu-edit", "test-set",
         ("instruction", "image", "task", "split", "idx", "hash", "input_caption", "output_caption"), ("image",),
         ("image_url",)),
    # Emu Edit's generations on its test set, facebook/emu_edit_test_set_generations
    _sig("emu-edit-parquet", "emu-edit", "generations",
         ("instruction", "image", "task", "split", "idx", "hash", "input_caption", "output_caption",
          "edited_image", "model"), ("image", "edited_image"), ("image_url",)),
)

PARQUET_FORMATS: tuple[str, ...] = tuple(dict.fromkeys(s.reader for s in SIGNATURES))


def _holds_images(t: pa.DataType) -> bool:
    def binary(x):
        return pa.types.is_binary(x) or pa.types.is_large_binary(x) or pa.types.is_fixed_size_binary(x)
    return binary(t) or (pa.types.is_struct(t) and t.get_field_index("bytes") >= 0
                         and binary(t.field(t.get_field_index("bytes")).type))


def matches(sig: Signature, schema: pa.Schema) -> bool:
    names = set(schema.names)
    return sig.required <= names and all(_holds_images(schema.field(c).type) for c in sig.images)


def match_columns(schema: pa.Schema, reader: str | None = None) -> Signature | None:
    """The signature this schema has (only among ``reader``'s when given), or None (unknown or ambiguous)."""
    found = [s for s in SIGNATURES if (reader is None or s.reader == reader) and matches(s, schema)]
    if not found:
        return None
    best = max(len(s.required) for s in found)
    top = [s for s in found if len(s.required) == best]
    return top[0] if len(top) == 1 else None


def match_file(path: str, reader: str | None = None) -> tuple[Signature | None, list[str] | None]:
    """(signature, column names) of a Parquet file; column names None when its footer cannot be read."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:  # noqa: BLE001 - unreadable: the caller decides (its reader writes the reject)
        return None, None
    return match_columns(schema, reader), list(schema.names)


def missing_required(reader: str, schema: pa.Schema) -> str | None:
    """None when the schema fits one of ``reader``'s signatures, else a one-line description of what is missing
    (of the closest signature) and what the file has."""
    sigs = [s for s in SIGNATURES if s.reader == reader]
    if not sigs or any(matches(s, schema) for s in sigs):
        return None
    names = set(schema.names)

    def gap(s):
        return sorted(s.required - names), sorted(c for c in s.images & names
                                                  if not _holds_images(schema.field(c).type))
    best = min(sigs, key=lambda s: sum(map(len, gap(s))))
    absent, not_images = gap(best)
    bits = []
    if absent:
        bits.append("lacks required column(s) " + ", ".join(f"`{c}`" for c in absent))
    if not_images:
        bits.append("column(s) " + ", ".join(f"`{c}`" for c in not_images) + " do not hold images")
    return (f"file {' and '.join(bits)} of format {reader} ({best.dataset}/{best.part}); its columns: "
            f"{', '.join(schema.names)}")


def unplaced_reason(columns: list[str] | None) -> str:
    if columns is None:
        return "cannot read the Parquet footer"
    return "no known dataset has this column set (use --format or --map); its columns: " + ", ".join(columns)
