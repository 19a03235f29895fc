"""`supportdesk serve` starts the web desk and its worker in one process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import WORKFLOWS

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_deploys_prints_the_first_admin_and_answers_on_its_port(tmp_path, new_store_url):
    port = free_port()
    env = {
        **os.environ,
        "SUPPORTDESK_DATABASE_URL": new_store_url("serve"),
        "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "supportdesk.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = wait_for(f"http://127.0.0.1:{port}/login", time.monotonic() + 60)
        assert "Sign in" in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "deployed diagrams as version 1" in output
    # No known password on an empty store: one admin with a generated one, printed once; no demo users.
    assert re.search(r"first administrator: admin, password \S{16}\n", output)
    assert "alice" not in output
    assert "demo" not in output
    # A production WSGI server (waitress), not Flask's development server and its warning.
    assert "development server" not in output
    assert "Do not use it in a production" not in output
    assert f"http://127.0.0.1:{port}/" in output
