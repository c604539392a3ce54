import subprocess
import sys


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "editlens.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_every_stage():
    out = run("--help").stdout
    for cmd in ("sample", "ingest", "embed", "build", "dashboard", "demo"):
        assert cmd in out


def test_missing_path_is_one_clear_line_and_exit_2(tmp_path):
    r = run("ingest", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "wh"))
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and "nope" in lines[0]


def test_unknown_format_is_exit_2(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.txt").write_text("hello")
    r = run("ingest", str(tmp_path / "data"), "--warehouse", str(tmp_path / "wh"))
    assert r.returncode == 2
    assert r.stderr.strip()


def test_help_lists_the_ingest_formats():
    import ingest
    from editlens.cli import INGEST_FORMATS

    assert tuple(INGEST_FORMATS) == tuple(ingest.formats)
