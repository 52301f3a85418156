"""Fixtures: a REAL sealbox server (the workspace's `target/debug/sealbox`) on 127.0.0.1:0."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

import sealbox

REPO = Path(__file__).resolve().parents[3]


def _binary() -> Path:
    given = os.environ.get("SEALBOX_BIN")
    if given:
        return Path(given)
    binary = REPO / "target" / "debug" / "sealbox"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--locked", "-p", "sealbox-cli"], cwd=REPO, check=True)
    return binary


class Server:
    """One `sealbox server` process with its data directory, address and owner token."""

    def __init__(self, data_dir: Path, extra: List[str]) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / f"{data_dir.name}.stderr", "wb")
        self.proc = subprocess.Popen(
            [str(_binary()), "server", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "RUST_LOG": "info"},
        )
        self.addr = self._wait_for_address()
        creds = json.loads((data_dir / "bootstrap.json").read_text())
        self.owner_token: str = creds["token"]
        self.owner_password: str = creds["password"]
        self.owner_email: str = creds["email"]

    def _wait_for_address(self) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            m = re.search(r"sealbox listening on (http://\S+)", line)
            if m:
                # Keep draining stdout so the server never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return m.group(1)
        self.stop()
        raise RuntimeError(f"sealbox server did not start; see {self.log.name}")

    def client(self, token: "str | None" = None) -> sealbox.Client:
        return sealbox.Client(addr=self.addr, token=token if token is not None else self.owner_token)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("sealbox") / "data", [])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server allowed to call loopback destinations, for the action tests."""
    srv = Server(tmp_path_factory.mktemp("sealbox-private") / "data", ["--allow-private-destinations"])
    yield srv
    srv.stop()


@pytest.fixture
def owner(server: Server) -> sealbox.Client:
    return server.client()


@pytest.fixture
def unique() -> str:
    """A fresh name suffix, so tests sharing the session server never collide."""
    return uuid.uuid4().hex[:10]


class Recorder:
    """A local HTTP server that records every request and echoes its Authorization header."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, Dict[str, str], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append((self.command, self.path, dict(self.headers.items()), body))
                reply = json.dumps(
                    {"you_sent": self.headers.get("authorization", ""), "body": body.decode("utf-8", "replace")}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()
