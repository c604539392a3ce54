"""Validated record fields: the checks every reader applies, and the reject reason each failure carries."""

from __future__ import annotations

from editlens.contract import tables as T
from editlens.contract.paths import UnsafePath, relative_path


def excerpt(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw[: T.RAW_EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return raw[: T.RAW_EXCERPT_CHARS]


class BadField(Exception):
    """A field that makes its record unusable: carries the reject reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_instruction(value: object, key: str = "instruction") -> str:
    if value is None:
        raise BadField(T.MISSING_KEY, f"`{key}` is absent or null")
    if not isinstance(value, str):
        raise BadField(T.WRONG_TYPE, f"`{key}` is {type(value).__name__}, expected a string")
    if not value.strip():
        raise BadField(T.EMPTY_INSTRUCTION, f"`{key}` is empty")
    if len(value) > T.MAX_INSTRUCTION_CHARS:
        raise BadField(T.INSTRUCTION_TOO_LONG, f"`{key}` has {len(value)} characters (> {T.MAX_INSTRUCTION_CHARS})")
    return value


def optional_text(value: object, key: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadField(T.WRONG_TYPE, f"`{key}` is {type(value).__name__}, expected a string or null")


def check_labels(value: object, key: str = "task_type") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise BadField(T.WRONG_TYPE, f"`{key}` must be a list of strings")


def is_clean_path(p) -> bool:
    """The quick test: a path string that passes every lexical check as it is and needs no normalising (anything
    else goes to ``check_rel_path``)."""
    return (type(p) is str and p != "" and p[0] != "/" and ".." not in p and "\\" not in p and "//" not in p
            and "./" not in p and ":" not in p and "\x00" not in p and not p.isspace())


def check_rel_path(value: object, key: str) -> str:
    """Checks of an image path taken from a record (`editlens.contract.paths.relative_path`: no absolute path,
    ``..`` escape, URL or NUL byte); returns it normalised (``/``-separated)."""
    if value is None:
        raise BadField(T.MISSING_KEY, f"`{key}` is absent or null")
    if not isinstance(value, str):
        raise BadField(T.WRONG_TYPE, f"`{key}` is {type(value).__name__}, expected a path string")
    p = value
    if not p or not p.strip():
        raise BadField(T.MISSING_KEY, f"`{key}` is empty")
    if is_clean_path(p):  # the common case
        return p
    try:
        return relative_path(p)
    except UnsafePath as exc:
        raise BadField(T.UNSAFE_PATH, f"`{key}` {exc}") from None
    except ValueError:
        raise BadField(T.MISSING_KEY, f"`{key}` is empty") from None
