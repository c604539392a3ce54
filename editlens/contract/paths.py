"""Paths taken from data (an image path in a record, a location row) and files opened from them: the one place that
decides what is safe. Every ingest reader, the embed job's image reading and the dashboards go through here.

A data path is safe when it is relative and stays inside its dataset root: `relative_path` is the lexical check
(no absolute path, no Windows drive or UNC path, no ``..`` escape, no URL, no NUL byte; returns the path
normalised to ``/`` separators), `within` / `resolve_within` the check with every symlink resolved. A file read
for its content is a regular file: `file_kind` names what a path really is (without opening it, so a FIFO never
blocks), `open_regular` opens it non-blocking and checks the opened file (no race with a swap in between).
Failures raise `UnsafePath` (reason code ``unsafe_path``) or `NotRegularFile` (its ``kind``: ``fifo``,
``device``, ``socket``, ``directory``, ``missing``), each with a short message naming the path.
"""

from __future__ import annotations

import os
import re
import stat

# `scheme://...` anywhere, or a scheme that needs no slashes (data:, file:, javascript:, blob:)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://|^(?:data|file|javascript|blob|about):", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePath(ValueError):
    """A data path that is absolute, escapes its root, is a URL or holds a NUL byte (reason ``unsafe_path``)."""

    reason = "unsafe_path"


class NotRegularFile(OSError):
    """A path that is not a regular file; ``kind`` says what it is instead."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def shown(path: object, limit: int = 200) -> str:
    """A path as messages show it: at most `limit` characters, undecodable bytes escaped."""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "backslashreplace")
    s = str(path)
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in s):  # a file name that is not valid UTF-8 (surrogate-escaped)
        s = s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return s[:limit]


def is_url(p: str) -> bool:
    return bool(_URL.match(p)) or "://" in p


def relative_path(value: str) -> str:
    """`value` normalised (``\\`` -> ``/``, empty and ``.`` components dropped); raises UnsafePath for an absolute
    path (``/x``, ``C:\\x``, ``\\\\host\\x``), a ``..`` component, a URL or a NUL byte, and ValueError for a path
    with no component left (empty)."""
    if "\x00" in value:
        raise UnsafePath("contains a NUL byte: " + shown(value.replace("\x00", "\\0")))
    if is_url(value.strip()):
        raise UnsafePath(f"is a URL, not a path in the dataset: {shown(value)}")
    q = value.replace("\\", "/")
    if q.startswith("/") or _DRIVE.match(q):
        raise UnsafePath(f"is absolute: {shown(value)}")
    parts = [c for c in q.split("/") if c not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"escapes the dataset root: {shown(value)}")
    if not parts:
        raise ValueError("is empty")
    return "/".join(parts)


def within(real_root: str, real: str) -> bool:
    """Is the resolved path `real` the resolved root `real_root` or below it?"""
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def resolve_within(root: str, rel: str) -> str:
    """The real path of `rel` (a data path, checked by `relative_path`) under `root`, every symlink resolved;
    raises UnsafePath when it resolves outside the resolved root."""
    rel = relative_path(rel)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    if not within(real_root, real):
        raise UnsafePath(f"leads outside the dataset root: {shown(rel)}")
    return real


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def file_kind(path: str) -> str:
    """What `path` is once symlinks are followed, from ``stat`` alone (never opened): ``file``, ``directory``,
    ``fifo``, ``device``, ``socket``, ``special file`` or ``missing``."""
    try:
        return _kind(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError:
        return "missing"


def check_regular(path: str, root: str | None = None) -> os.stat_result:
    """The ``stat`` of `path` when it is a regular file (and, with `root`, resolves inside it: a symlink is
    followed only within the root); raises NotRegularFile or UnsafePath otherwise. Nothing is opened."""
    if root is not None and not within(os.path.realpath(root), os.path.realpath(path)):
        raise UnsafePath(f"is a symlink leading outside the dataset root: {shown(path)}")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotRegularFile("missing", f"no such file: {shown(path)}") from None
    kind = _kind(st.st_mode)
    if kind != "file":
        raise NotRegularFile(kind, f"not a regular file ({kind}): {shown(path)}")
    return st


def open_regular(path: str, root: str | None = None):
    """`path` opened for binary reading once `check_regular` passed, non-blocking (a FIFO swapped in between
    never blocks) and checked again on the open file; returns (file object, its size)."""
    check_regular(path, root)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind != "file":
            raise NotRegularFile(kind, f"not a regular file ({kind}): {shown(path)}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


__all__ = ["NotRegularFile", "UnsafePath", "check_regular", "file_kind", "is_url", "open_regular",
           "relative_path", "resolve_within", "shown", "within"]
