"""``batchops sandbox`` started as a real process, answering a token request and queryAgentInfo."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from batchops.cli.sandbox_cmd import _banner, _is_loopback
from batchops.cli.shell import env_lines


def test_batchops_sandbox_prints_the_environment_and_serves_until_interrupted(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchops", "sandbox", "--port", "0", "--agents", "40",
         "--state", str(tmp_path / "state.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("# AICC sandbox at http://127.0.0.1:")
        block = [first] + [proc.stdout.readline() for _ in range(9)]
        assert block[-1].startswith("# (For another shell: batchops sandbox --shell powershell or --shell cmd")
        # Pasted into a POSIX shell as printed, every line is taken: the variables are set.
        shown = subprocess.run(["sh", "-c", "".join(block) + "env"], capture_output=True, text=True, check=True,
                               env={"PATH": "/usr/bin:/bin"})
        assert shown.stderr == ""
        env = dict(line.split("=", 1) for line in shown.stdout.splitlines() if line.startswith("BATCHOPS_"))
        assert sorted(env) == sorted(["BATCHOPS_BASE_URL", "BATCHOPS_APP_KEY", "BATCHOPS_APP_SECRET",
                                      "BATCHOPS_ISALES_URL", "BATCHOPS_ISALES_AK", "BATCHOPS_ISALES_SK",
                                      "BATCHOPS_USER_ID"])
        url = env["BATCHOPS_BASE_URL"]
        assert url.startswith("http://127.0.0.1:") and env["BATCHOPS_ISALES_URL"] == url
        # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
        with httpx.Client(base_url=url, timeout=5, verify=False) as client:
            token = client.post("/apigovernance/api/oauth/tokenByAkSk", headers={"X-Token-Expire": "600"},
                                json={"app_key": env["BATCHOPS_APP_KEY"],
                                      "app_secret": env["BATCHOPS_APP_SECRET"]}).json()["AccessToken"]
            r = client.get("/apiaccess/CC-Management/v1/queryAgentInfo",
                           headers={"Authorization": f"Bearer {token}", "X-APP-Key": env["BATCHOPS_APP_KEY"]})
            assert r.status_code == 200 and len(r.json()["agents"]) == 40
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "Sandbox stopped." in out


def test_port_in_use_is_one_error_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "batchops", "sandbox", "--port", str(port)],
                              check=False, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 3
    assert proc.stderr.startswith("Error: Cannot listen on 127.0.0.1:")
    assert "Traceback" not in proc.stderr


def test_only_loopback_addresses_count_as_loopback():
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.5")


def test_settings_lines_for_each_shell_keep_the_value_exactly():
    env = {"BATCHOPS_APP_SECRET": "it's a $ecret & <more>", "BATCHOPS_BASE_URL": "http://127.0.0.1:8707"}
    assert env_lines("posix", env) == ["export BATCHOPS_APP_SECRET='it'\"'\"'s a $ecret & <more>'",
                                       "export BATCHOPS_BASE_URL=http://127.0.0.1:8707"]
    assert env_lines("powershell", env) == ["$env:BATCHOPS_APP_SECRET = 'it''s a $ecret & <more>'",
                                            "$env:BATCHOPS_BASE_URL = 'http://127.0.0.1:8707'"]
    assert env_lines("cmd", env) == ['set "BATCHOPS_APP_SECRET=it\'s a $ecret & <more>"',
                                     'set "BATCHOPS_BASE_URL=http://127.0.0.1:8707"']
    shown = subprocess.run(["sh", "-c", env_lines("posix", env)[0] + '\nprintf %s "$BATCHOPS_APP_SECRET"'],
                           capture_output=True, text=True, check=True)
    assert shown.stdout == env["BATCHOPS_APP_SECRET"]


def test_the_banner_is_all_comments_and_commands_in_the_chosen_shell():
    lines = _banner("cmd", "http://127.0.0.1:1", {"BATCHOPS_USER_ID": "1"}, "3 agents")
    assert lines == ["rem AICC sandbox at http://127.0.0.1:1 (3 agents); Ctrl-C stops it.",
                     "rem Paste these lines into the terminal you run batchops in; they point batchops at it:",
                     'set "BATCHOPS_USER_ID=1"',
                     ("rem (For another shell: batchops sandbox --shell posix or --shell powershell; posix is bash, "
                     "zsh and sh, powershell and cmd are Windows'.)")]
