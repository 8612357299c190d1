"""`graphrag serve` as a real process on a loopback port, talked to over real HTTP.

Also: the official ``openai`` client against the OpenAI-compatible endpoint (plain and
streamed), Server-Sent Events over a socket, and an ingest job that survives ``kill -9`` of
the server: the restarted service resumes it and ends with every input ingested.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SECRET

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Who built the Lantern Bridge?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A `graphrag serve` process and its base URL."""

    def __init__(self, tmp: Path, store: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "GRAPHRAG_EXTRACTION__PROCESSES": "1",
            "GRAPHRAG_API__JWT_SECRET": SECRET,
            "GRAPHRAG_API__WORKSPACES_DIR": str(tmp / "workspaces"),
            "GRAPHRAG_API__SPOOL_DIR": str(tmp / "spool"),
            "GRAPHRAG_API__AUDIT_LOG": str(tmp / "audit.log"),
            "GRAPHRAG_EMBEDDED__PATH": str(store),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError("server not ready: " + self.log.read_text()[-3000:])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def token(self, role: str) -> str:
        from api.security import Role, mint_token
        from graphrag.config import load_settings

        settings = load_settings(api={"jwt_secret": SECRET})
        return mint_token(settings, subject=f"p-{role}", role=Role(role), workspace="default")


@pytest.fixture
def server(tmp_path: Path, sample_store: Path) -> Iterator[Server]:
    store = tmp_path / "default.db"
    shutil.copy(sample_store, store)
    running = Server(tmp_path, store)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop(signal.SIGKILL)


def test_real_process_answers_over_http_and_stops_on_sigterm(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token('reader')}"}
    reply = httpx.post(server.url + "/v1/query", json={"question": QUESTION}, headers=headers,
                       timeout=60)  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.json()["citations"]
    assert reply.headers["x-request-id"]
    denied = httpx.post(server.url + "/v1/query", json={"question": QUESTION}, timeout=10)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "unauthorized"
    with httpx.stream("POST", server.url + "/v1/query/stream", json={"question": QUESTION},
                      headers=headers, timeout=60) as stream:  # fmt: skip
        lines = [line for line in stream.iter_lines() if line.startswith("event: ")]
    assert lines[0] == "event: context"
    assert lines[-1] == "event: done"
    assert server.stop(signal.SIGTERM) == 0


def test_official_openai_client_uses_the_chat_endpoint(server: Server) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key=server.token("reader"), max_retries=0)
    models = [m.id for m in client.models.list()]
    assert "graphrag" in models
    assert "graphrag-ppr" in models
    completion = client.chat.completions.create(
        model="graphrag-ppr", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    assert "Lantern Bridge" in content
    assert "Sources:" in content
    assert (completion.model_extra or {}).get("citations")
    pieces = []
    for chunk in client.chat.completions.create(
        model="graphrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert "".join(pieces).startswith(content.split("\n")[0][:40])


def test_job_survives_kill_9_of_the_server(server: Server, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {server.token('writer')}"}
    files = [
        ("files", (f"note{i}.txt", f"Note {i}: Orla Brandt{i} founded Kestrel{i} Works in "
                   f"Velmora in {1900 + i}.".encode(), "text/plain"))
        for i in range(12)
    ]  # fmt: skip
    reply = httpx.post(server.url + "/v1/documents", files=files, headers=headers, timeout=60)
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["id"]
    time.sleep(0.5)
    server.stop(signal.SIGKILL)  # mid-job (or just after): the job is left running
    server.start()  # the new process finds it stale or interrupted and resumes it
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(1)
    assert job["status"] == "succeeded", job
    assert [f["status"] for f in job["files"]] == ["done"] * 12
    listed = httpx.get(server.url + "/v1/documents?contains=upload://note&limit=100",
                       headers=headers, timeout=10).json()  # fmt: skip
    assert sorted(d["source"] for d in listed["items"]) == sorted(
        f"upload://note{i}.txt" for i in range(12)
    )
    assert not list((tmp_path / "spool").rglob("*.txt"))  # spooled inputs removed when done
