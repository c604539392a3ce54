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
    from editlens.cli import _parser
    from editlens.contract import FORMATS

    sub = next(a for a in _parser()._actions if a.dest == "command").choices["ingest"]
    (fmt,) = [a for a in sub._actions if a.dest == "format"]
    assert fmt.help.endswith(", ".join(FORMATS))


def test_embed_flags_reach_the_job_config(tmp_path, monkeypatch):
    """--streams, --threads and --workers go to EmbedConfig unchanged (the job's CPU layout)."""
    import editlens.embeddings.main as em
    from editlens import cli

    seen = {}

    def fake_run_embed(cfg):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(em, "run_embed", fake_run_embed)
    try:
        cli.main(["embed", "--warehouse", str(tmp_path / "wh"), "--streams", "3", "--threads", "1",
                  "--workers", "0", "--no-progress"])
    except SystemExit:
        pass
    cfg = seen["cfg"]
    assert (cfg.streams, cfg.threads, cfg.workers, cfg.progress) == (3, 1, 0, False)
