"""Serve the dashboards: ``serve(warehouse, host, port)`` runs ``streamlit run dashboards/app.py``.

Binds to localhost unless told otherwise; the warehouse reaches the app through ``$EDITLENS_WAREHOUSE``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from editlens.contract.errors import UnusableInput
from editlens.warehouse import ENV_VAR, Warehouse

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(int(port)),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",  # no Deploy button (also in .streamlit/config.toml for a plain `streamlit run`)
    ]


def serve(warehouse: Warehouse | str | os.PathLike, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Run the app until interrupted; returns streamlit's exit code (2 when the warehouse folder is missing)."""
    wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse.at(warehouse)
    if not wh.root.is_dir():
        raise UnusableInput(f"warehouse folder {wh.root} does not exist (run `editlens build` first)")
    if not (1 <= int(port) <= 65535):
        raise UnusableInput(f"bad port {port}")
    if not wh.marts_dir.is_dir() or not any(wh.marts_dir.glob("*.parquet")):
        print(
            f"note: no marts in {wh.marts_dir} yet; pages will say so until `editlens build` has run",
            file=sys.stderr,
        )
    env = dict(os.environ, **{ENV_VAR: str(wh.root)})
    shown = f"[{host}]" if ":" in host else host
    print(
        f"EditLens dashboards: http://{shown}:{int(port)}  (warehouse {wh.root}; Ctrl+C to stop)", flush=True
    )
    proc = subprocess.Popen(streamlit_command(host, port), env=env)
    restore = None
    if threading.current_thread() is threading.main_thread():
        # `kill <pid>` of this process must not leave the server running: pass SIGTERM/SIGHUP on to it
        def _forward(signum, _frame):
            proc.send_signal(signum)

        restore = {sig: signal.signal(sig, _forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        for sig, handler in (restore or {}).items():
            signal.signal(sig, handler)
