"""API load: served ``POST /v1/retrieve`` throughput against in-process ``retrieve()``, and an
ingest job through the API against the CLI.

Usage:
    .venv/bin/python benchmarks/api_load.py --dataset ../shared/data/musique_train \
        --db .graphrag/bench/musique.db --seconds 60 --clients 16
    .venv/bin/python benchmarks/api_load.py ... --skip-ingest      # retrieval only

1. The store at ``--db`` is built from the dataset if it does not exist.
2. In process: ``--clients`` concurrent tasks call ``GraphRAG.retrieve`` for ``--seconds`` per
   mode (same thread pool size as the service, ``api.cpu_workers``).
3. Served: ``graphrag serve`` on a loopback port over a copy of the store; ``--clients``
   concurrent httpx clients ``POST /v1/retrieve`` for ``--seconds`` per mode. The rate limit is
   raised for the run (it would otherwise throttle one subject at 120/minute).
4. Ingest (unless ``--skip-ingest``): the first ``--ingest-docs`` passages as ``.txt`` files,
   ingested by ``graphrag ingest`` into a new store (wall time of the process, and the ingest
   time it reports), and uploaded to the running service into a new workspace (wall time
   from the upload until the job has finished).

Results go to ``benchmarks/results/api_load_<date>.json`` and stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from graphrag.config import load_settings  # noqa: E402
from graphrag.evaluation import EvalDataset, load_dataset, percentile  # noqa: E402
from graphrag.facade import GraphRAG  # noqa: E402
from graphrag.runtime import configure_logging  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SECRET = "benchmark-only-signing-key-7d41c0e99a2f"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True, help="indexed store (built if missing)")
    parser.add_argument("--modes", default="hybrid,ppr")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ingest-docs", type=int, default=300)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    ms = [x * 1000.0 for x in latencies]
    return {
        "requests": len(ms),
        "errors": errors,
        "requests_per_second": round(len(ms) / seconds, 2),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
    }


async def in_process(
    db: Path, questions: list[str], mode: str, clients: int, seconds: float
) -> dict[str, Any]:
    settings = load_settings(embedded={"path": db})
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(settings.api.cpu_workers))
    rag = await GraphRAG.open(settings)
    latencies: list[float] = []
    async with rag:
        await rag.retrieve(questions[0], mode=mode)  # warm-up: models load
        deadline = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await rag.retrieve(questions[i % len(questions)], mode=mode)
                latencies.append(time.perf_counter() - start)
                i += clients

        start = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        wall = time.perf_counter() - start
    return summary(latencies, 0, wall)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "GRAPHRAG_API__JWT_SECRET": SECRET,
        "GRAPHRAG_API__RATE_LIMIT": "1000000/minute",
        "GRAPHRAG_API__WORKSPACES_DIR": str(work / "workspaces"),
        "GRAPHRAG_API__SPOOL_DIR": str(work / "spool"),
        "GRAPHRAG_API__AUDIT_LOG": str(work / "audit.log"),
        "GRAPHRAG_API__MAX_UPLOAD_FILES": "10000",
        "GRAPHRAG_EMBEDDED__PATH": str(db),
        "GRAPHRAG_LOG_LEVEL": "WARNING",
    }
    log = (work / "serve.log").open("wb")
    cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("server did not become ready; see " + str(work / "serve.log"))


def token(role: str, workspace: str = "default") -> str:
    from api.security import Role, mint_token

    settings = load_settings(api={"jwt_secret": SECRET})
    return mint_token(settings, subject=f"bench-{role}", role=Role(role), workspace=workspace)


async def served(
    url: str, questions: list[str], mode: str, clients: int, seconds: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token('reader')}"}
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as http:
        warm = await http.post("/v1/retrieve", json={"question": questions[0], "mode": mode})
        warm.raise_for_status()
        deadline = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                body = {"question": questions[i % len(questions)], "mode": mode}
                start = time.perf_counter()
                reply = await http.post("/v1/retrieve", json=body)
                if reply.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(f"{reply.status_code} {reply.text[:200]}")
                i += clients

        start = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        wall = time.perf_counter() - start
    result = summary(latencies, len(errors), wall)
    result["first_errors"] = errors[:5]
    return result


def write_corpus(dataset: EvalDataset, folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, document in enumerate(dataset.documents()[:count]):
        path = folder / f"p{i:05d}.txt"
        path.write_text(f"{document.title}\n\n{document.text}", encoding="utf-8")
        paths.append(path)
    return paths


def ingest_cli(folder: Path, work: Path) -> dict[str, Any]:
    db = work / "cli.db"
    cmd = [sys.executable, "-m", "pipelines.cli", "ingest", str(folder), "--db", str(db), "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    report = json.loads(done.stdout)
    return {"process_seconds": round(wall, 2), "ingest_seconds": report["seconds"],
            "documents": report["documents"], "chunks": report["chunks"]}  # fmt: skip


def ingest_api(url: str, paths: list[Path]) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {token('admin')}"}
    httpx.post(url + "/v1/workspaces", json={"name": "bench"}, headers=admin, timeout=60)
    writer = {"Authorization": f"Bearer {token('writer', 'bench')}"}
    files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in paths]
    start = time.perf_counter()
    reply = httpx.post(url + "/v1/documents", files=files, headers=writer, timeout=600)
    reply.raise_for_status()
    job_id = reply.json()["id"]
    while True:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=writer, timeout=60).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    wall = time.perf_counter() - start
    return {"job_seconds": round(wall, 2), "status": job["status"], "inputs": job["total"],
            "documents_written": job["summary"].get("documents_written")}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("WARNING")
    dataset = load_dataset(args.dataset)
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {args.db} ...", file=sys.stderr)
        asyncio.run(build(args.db, dataset))
    questions = [q.question for q in dataset.questions]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    result: dict[str, Any] = {
        "benchmark": "api_load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "clients": args.clients,
        "seconds": args.seconds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "in_process": {},
        "served": {},
    }
    for mode in modes:
        print(f"in process, {mode} ...", file=sys.stderr)
        result["in_process"][mode] = asyncio.run(
            in_process(args.db, questions, mode, args.clients, args.seconds)
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        served_db = work / "served.db"
        shutil.copy(args.db, served_db)
        process, url = start_server(served_db, work)
        try:
            for mode in modes:
                print(f"served, {mode} ...", file=sys.stderr)
                result["served"][mode] = asyncio.run(
                    served(url, questions, mode, args.clients, args.seconds)
                )
                ratio = (
                    result["served"][mode]["requests_per_second"]
                    / result["in_process"][mode]["requests_per_second"]
                )
                result["served"][mode]["share_of_in_process"] = round(ratio, 3)
            if not args.skip_ingest:
                paths = write_corpus(dataset, work / "corpus", args.ingest_docs)
                print(f"ingest of {len(paths)} files: API, then CLI ...", file=sys.stderr)
                result["ingest_api"] = ingest_api(url, paths)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        if not args.skip_ingest:
            result["ingest_cli"] = ingest_cli(work / "corpus", work)
            api_s, cli_s = result["ingest_api"]["job_seconds"], result["ingest_cli"]
            result["ingest_api_vs_cli_process"] = round(api_s / cli_s["process_seconds"], 3)
            result["ingest_api_vs_cli_ingest"] = round(api_s / cli_s["ingest_seconds"], 3)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"api_load_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


async def build(db: Path, dataset: EvalDataset) -> None:
    rag = await GraphRAG.open(load_settings(embedded={"path": db}))
    async with rag:
        await rag.ingest_documents(dataset.documents())


if __name__ == "__main__":
    raise SystemExit(main())
