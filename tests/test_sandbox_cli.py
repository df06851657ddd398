"""``batchops sandbox`` started as a real process, answering a token request and queryAgentInfo."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from batchops.cli.sandbox_cmd import _is_loopback


def test_batchops_sandbox_prints_the_environment_and_serves_until_interrupted(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchops", "sandbox", "--port", "0", "--agents", "40",
         "--state", str(tmp_path / "state.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("AICC sandbox at http://127.0.0.1:")
        env = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(7))
        assert list(env) == ["BATCHOPS_BASE_URL", "BATCHOPS_APP_KEY", "BATCHOPS_APP_SECRET",
                             "BATCHOPS_ISALES_URL", "BATCHOPS_ISALES_AK", "BATCHOPS_ISALES_SK", "BATCHOPS_USER_ID"]
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
