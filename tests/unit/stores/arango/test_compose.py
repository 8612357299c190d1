"""docker-compose.yml, the Dockerfile and the ArangoDB init script (the database side).

No Docker engine runs here: the file is checked by parsing it, and by Debian's
``docker-compose`` (v1.29, ``config -q`` needs no engine) when that binary is installed.
The API, proxy and image side of the deployment is tested in tests/unit/test_deploy.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_arangodb_service_is_pinned_with_vector_indexes_on(compose: dict[str, Any]) -> None:
    db = compose["services"]["arangodb"]
    assert re.fullmatch(r"arangodb/arangodb:3\.12\.\d+", db["image"])
    assert "--vector-index=true" in db["command"]
    assert all(str(p).startswith("127.0.0.1:") for p in db["ports"])
    assert "arango_data:/var/lib/arangodb3" in db["volumes"]
    assert "arango_data" in compose["volumes"]
    assert any(v.endswith(":/docker-entrypoint-initdb.d:ro") for v in db["volumes"])


def test_healthcheck_uses_the_public_availability_endpoint(compose: dict[str, Any]) -> None:
    check = compose["services"]["arangodb"]["healthcheck"]
    command = " ".join(check["test"])
    assert "wget" in command
    assert "http://127.0.0.1:8529/_admin/server/availability" in command
    assert check["retries"] >= 10


def test_root_password_comes_from_a_gitignored_secret_file(compose: dict[str, Any]) -> None:
    db = compose["services"]["arangodb"]
    env = db["environment"]
    assert env["ARANGO_ROOT_PASSWORD_FILE"].endswith("-/run/secrets/arango_root_password}")
    assert env["ARANGO_ROOT_PASSWORD"] is None  # only ever taken from the shell
    assert "arango_root_password" in db["secrets"]
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./deploy/secrets/")
    ignore = (ROOT / "deploy" / "secrets" / ".gitignore").read_text().splitlines()
    assert "*" in ignore
    assert "!.gitignore" in ignore


def test_api_waits_for_a_healthy_database_and_uses_the_writer(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"]["arangodb"]["condition"] == "service_healthy"
    env = api["environment"]
    assert env["GRAPHRAG_STORE"] == "arango"
    assert env["GRAPHRAG_ARANGO__URL"] == "http://arangodb:8529"
    # the API ingests uploads and runs jobs: collection rw, no schema changes
    assert env["GRAPHRAG_ARANGO__USERNAME"] == "kg_writer"
    assert "GRAPHRAG_ARANGO__PASSWORD" not in env  # the image's entry point reads the secret
    assert env["FILE__GRAPHRAG_ARANGO__PASSWORD"] == "/run/secrets/kg_writer_password"
    assert api["secrets"] == ["kg_writer_password"]
    schema = compose["services"]["schema"]
    assert schema["environment"]["GRAPHRAG_ARANGO__USERNAME"] == "kg_admin"
    assert schema["environment"]["FILE__GRAPHRAG_ARANGO__PASSWORD"] == (
        "/run/secrets/kg_admin_password"
    )
    assert schema["secrets"] == ["kg_admin_password"]
    assert schema["profiles"] == ["tools"]


def test_dockerfile_installs_the_lock_with_cpu_torch() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "-r requirements.lock" in text
    assert "download.pytorch.org/whl/cpu" in text
    assert "COPY aql ./aql" in text
    assert "useradd --system --uid 10001 --gid graphrag" in text
    assert "USER 10001:10001" in text


def test_init_script_creates_the_least_privilege_users() -> None:
    script = (ROOT / "deploy" / "arango-init" / "create-users.js").read_text()
    for user, db_level, coll_level in [
        ("kg_admin", "rw", "rw"),
        ("kg_writer", "ro", "rw"),
        ("kg_reader", "ro", "ro"),
        ("kg_analyst", "ro", "ro"),
    ]:
        pattern = (
            rf"user: '{user}', secret: '{user}_password', database: '{db_level}', "
            rf"collections: '{coll_level}'"
        )
        assert re.search(pattern, script), user
    assert "users.grantDatabase" in script
    assert "users.grantCollection" in script
    node = shutil.which("node")
    if node:
        done = subprocess.run(
            [node, "--check", str(ROOT / "deploy/arango-init/create-users.js")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    """``docker-compose config -q`` with the settings file the compose file requires.

    The file is validated in its own folder, with deploy/api.env copied from
    deploy/api.env.example and passed as ``--env-file`` (docs/operations.md).
    """
    binary = shutil.which("docker-compose")
    assert binary is not None
    (path.parent / "deploy").mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "api.env.example", path.parent / "deploy" / "api.env")
    env = {**os.environ, "ARANGO_ROOT_PASSWORD": "x"}
    return subprocess.run(
        [binary, "-f", str(path), "--env-file", "deploy/api.env", "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=path.parent,
    )


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (apt-get install -y docker-compose validates "
    "compose files without an engine)",
)
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good" / "docker-compose.yml"
    good.parent.mkdir()
    shutil.copy(COMPOSE, good)
    done = _compose_config(good)
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healthchek:", 1))
    assert _compose_config(broken).returncode != 0
