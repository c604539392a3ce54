"""Kept for code written against the old name: the embed job raises `editlens.contract.UnusableInput`."""

from editlens.contract.errors import UnusableInput as EmbedInputError  # noqa: F401
