"""The one path check of the contract (`editlens.contract.paths`): lexical rules, symlinks, special files."""

import os

import pytest

from editlens.contract.paths import (
    NotRegularFile,
    UnsafePath,
    check_regular,
    file_kind,
    open_regular,
    relative_path,
    resolve_within,
)
from editlens.ingest.fields import BadField, check_rel_path


@pytest.mark.parametrize("p", ["/etc/passwd", "\\\\host\\share\\a.jpg", "C:\\x.jpg", "c:/x.jpg", "a/../../b.jpg",
                               "..", "a\\..\\..\\b", "http://example.com/a.jpg", "https://x/y.png", "s3://b/k.jpg",
                               "file:///etc/passwd", "file:a.jpg", "data:image/png;base64,AAAA", "a\x00b",
                               " http://x/a.jpg", "images/http://x"])
def test_unsafe_paths_are_refused(p):
    with pytest.raises(UnsafePath):
        relative_path(p)
    with pytest.raises(BadField) as e:
        check_rel_path(p, "source_image")
    assert e.value.reason == "unsafe_path"


@pytest.mark.parametrize("p,want", [("a/b.jpg", "a/b.jpg"), ("./a//b.jpg", "a/b.jpg"), ("a\\b.jpg", "a/b.jpg"),
                                    ("a/b..c.jpg", "a/b..c.jpg"), ("img:1.jpg", "img:1.jpg")])
def test_safe_paths_are_normalised(p, want):
    assert relative_path(p) == want
    assert check_rel_path(p, "k") == want


def test_symlinks_are_followed_only_inside_the_root(tmp_path):
    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.jpg").write_bytes(b"s")
    os.symlink(root / "img" / "a.jpg", root / "inside.jpg")
    os.symlink(tmp_path / "secret.jpg", root / "outside.jpg")
    os.symlink(tmp_path, root / "up")
    assert resolve_within(str(root), "inside.jpg") == os.path.realpath(root / "img" / "a.jpg")
    for rel in ("outside.jpg", "up/secret.jpg"):
        with pytest.raises(UnsafePath, match="outside"):
            resolve_within(str(root), rel)
    with pytest.raises(UnsafePath):
        check_regular(str(root / "outside.jpg"), str(root))
    assert check_regular(str(root / "inside.jpg"), str(root)).st_size == 1


def test_special_files_are_named_and_never_opened(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", tmp_path / "zero.jsonl")
    assert file_kind(str(fifo)) == "fifo"
    assert file_kind(str(tmp_path / "zero.jsonl")) == "device"
    assert file_kind(str(tmp_path)) == "directory"
    assert file_kind(str(tmp_path / "nope")) == "missing"
    for p, kind in ((fifo, "fifo"), (tmp_path / "zero.jsonl", "device"), (tmp_path, "directory")):
        with pytest.raises(NotRegularFile) as e:
            open_regular(str(p))  # would block (FIFO) or never end (/dev/zero) if opened and read
        assert e.value.kind == kind
    (tmp_path / "ok.jsonl").write_bytes(b"{}\n")
    fh, size = open_regular(str(tmp_path / "ok.jsonl"), str(tmp_path))
    with fh:
        assert (fh.read(), size) == (b"{}\n", 3)
