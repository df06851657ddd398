"""``batchops serve`` from the command line: one line on stdout, the token works, Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from batchops.cli import serve_cmd
from batchops.web import options

LINK = re.compile(r"^batchops serve: http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{32,})$")


def start_serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHOPS_")}
    env["TMPDIR"] = str(tmp_path)  # the private upload folder is made here
    return subprocess.Popen([sys.executable, "-m", "batchops", "serve", "--port", "0", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_serve_prints_one_line_serves_with_the_token_and_stops_on_ctrl_c(tmp_path):
    process = start_serve(tmp_path)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().rstrip("\n")
        match = LINK.match(line)
        assert match, line
        port, token = match.groups()
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/target").status_code == 401
        assert httpx.get(f"{base}/api/target", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page = httpx.get(f"{base}/?token={token}", follow_redirects=True)
        assert page.status_code == 200 and "<title>Start · batchops</title>" in page.text
        folders = list(tmp_path.glob("batchops-serve-*"))
        assert len(folders) == 1 and folders[0].stat().st_mode & 0o777 == 0o700
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out == ""  # nothing after the one line
    assert "Stopped; uploads removed." in err
    assert list(tmp_path.glob("batchops-serve-*")) == []


def test_a_port_in_use_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "batchops", "serve", "--port", str(port), "--no-browser"],
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().startswith(f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use.")
    assert "Choose another --port (0 picks a free one)" in result.stderr


def test_a_non_loopback_host_warns_and_still_needs_the_token(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "batchops", "serve", "--host", "0.0.0.0", "--port", "0",
                                "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = LINK.match(process.stdout.readline().rstrip("\n"))
        assert match
        port, _token = match.groups()
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    assert "Warning: listening on 0.0.0.0: anyone who can reach this computer can reach the page" in err


def test_help_does_not_load_the_web_layer():
    code = ("import sys; from batchops.cli import run; run(['--help']); "
            "print('web loaded' if any(m.startswith(('batchops.web', 'starlette', 'jinja2')) for m in sys.modules) "
            "else 'web not loaded')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip().endswith("web not loaded")


def test_the_help_defaults_are_the_web_layers_own():
    assert (serve_cmd.DEFAULT_HOST, serve_cmd.DEFAULT_PORT, serve_cmd.DEFAULT_MAX_UPLOAD_MB) == (
        options.DEFAULT_HOST, options.DEFAULT_PORT, options.DEFAULT_MAX_UPLOAD_MB)


def test_serve_with_the_sandbox_targets_it_and_keeps_the_users_journal_alone(tmp_path):
    process = start_serve(tmp_path, "--sandbox")
    try:
        assert process.stdout is not None
        match = LINK.match(process.stdout.readline().rstrip("\n"))
        assert match
        port, token = match.groups()
        target = httpx.get(f"http://127.0.0.1:{port}/api/target",
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert target["base_url"].startswith("http://127.0.0.1:") and target["c1_ready"] and target["isales_ready"]
        assert target["base_url"] != f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "AICC sandbox at http://127.0.0.1:" in err
