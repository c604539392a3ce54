"""The contract every stage imports and that imports no stage: the Arrow schemas of the job tables, image
locations with their one `read_bytes`, the one unusable-input error (exit code 2), the dataset format names and
`rebatch`. The warehouse folder's paths and atomic writes are `editlens.warehouse`."""

from editlens.contract.batches import rebatch
from editlens.contract.errors import EXIT_UNUSABLE_INPUT, UnusableInput
from editlens.contract.formats import FORMATS
from editlens.contract.locations import ImageLocation, ImageUnavailable, LastRowGroup, read_column
from editlens.contract.tables import EMBED_SCHEMAS, INGEST_SCHEMAS, SCHEMAS

__all__ = [
    "EMBED_SCHEMAS", "EXIT_UNUSABLE_INPUT", "FORMATS", "INGEST_SCHEMAS", "ImageLocation", "ImageUnavailable",
    "LastRowGroup", "SCHEMAS", "UnusableInput", "rebatch", "read_column",
]
