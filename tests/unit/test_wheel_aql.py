"""The AQL files ship in the wheel: build it, install it into a fresh venv, load every query.

``aql/`` at the repository root is the one place the files live; pyproject.toml maps the
build's ``graphrag._aql`` package to it, so a wheel carries them at ``graphrag/_aql/`` and
:func:`graphrag.stores.arango.queries.aql_folder` reads them with importlib.resources.

The build is offline: ``uv build --no-build-isolation`` with this interpreter's setuptools
(the build backend of pyproject.toml). The fresh venv gets the wheel alone (``--no-deps``);
the dependencies are borrowed from this interpreter's site-packages through a ``.pth`` line,
which does not run this venv's editable-install hook, so ``graphrag`` comes from the wheel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SOURCES = ("pyproject.toml", "README.md", "graphrag", "pipelines", "api", "aql")
CODE_PACKAGES = ("graphrag", "pipelines", "api")


def _uv() -> str | None:
    """``uv`` next to this interpreter (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


UV = _uv()
HAS_SETUPTOOLS = importlib.util.find_spec("setuptools") is not None
needs_build_tools = pytest.mark.skipif(
    UV is None or not HAS_SETUPTOOLS,
    reason="building the wheel offline needs uv (.venv/bin/uv or on PATH) and setuptools in "
    "this interpreter (uv build --no-build-isolation); run scripts/setup.sh",
)

CHECK = """
import hashlib, json, sys
from pathlib import Path
import graphrag
from graphrag.stores.arango.queries import Queries, aql_folder
expected = json.loads(sys.argv[1])
folder = aql_folder()
queries = Queries()
texts = {name: queries.text(name) for name in expected["queries"]}
analyst = sorted(f.name for f in folder.joinpath("analyst").iterdir() if f.name.endswith(".aql"))
parts = folder.joinpath("fragments").iterdir()
fragments = sorted(f.name for f in parts if f.name.endswith(".aql"))
print(json.dumps({
    "graphrag": str(Path(graphrag.__file__).resolve()),
    "folder": str(folder),
    "loaded": sorted(name for name, text in texts.items() if text.strip()),
    "analyst": analyst,
    "fragments": fragments,
    "sha256": {n: hashlib.sha256(t.encode()).hexdigest() for n, t in texts.items()},
}))
"""


def _aql_names() -> dict[str, list[str]]:
    return {
        "queries": sorted(p.stem for p in (ROOT / "aql").glob("*.aql")),
        "analyst": sorted(p.name for p in (ROOT / "aql" / "analyst").glob("*.aql")),
        "fragments": sorted(p.name for p in (ROOT / "aql" / "fragments").glob("*.aql")),
    }


def _assembled_digests(names: list[str]) -> dict[str, str]:
    """SHA-256 of each query as the checkout assembles it (includes expanded)."""
    from graphrag.stores.arango.queries import AQL_DIR, Queries

    queries = Queries(AQL_DIR)
    return {n: hashlib.sha256(queries.text(n).encode()).hexdigest() for n in names}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args), capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)


def test_pyproject_lists_every_package_and_maps_the_aql_folder() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in CODE_PACKAGES
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    listed = set(setuptools["packages"])
    aql_folders = {"graphrag._aql", "graphrag._aql.analyst", "graphrag._aql.fragments"}
    assert listed - on_disk == aql_folders
    assert on_disk - listed == set(), "add the new subpackage to [tool.setuptools] packages"
    assert setuptools["package-dir"] == {"graphrag._aql": "aql"}
    assert setuptools["package-data"]["graphrag._aql"] == ["*.aql"]
    assert "*.aql" in setuptools["package-data"]["graphrag._aql.analyst"]
    assert setuptools["package-data"]["graphrag._aql.fragments"] == ["*.aql"]
    subfolders = {p.name for p in (ROOT / "aql").iterdir() if p.is_dir()} - {"__pycache__"}
    assert {f"graphrag._aql.{name}" for name in subfolders} == aql_folders - {"graphrag._aql"}
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"


@needs_build_tools
def test_wheel_carries_the_aql_files_and_an_installed_copy_loads_them(tmp_path: Path) -> None:
    assert UV is not None
    source, out, venv = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    source.mkdir()
    _copy_sources(source)
    python = sys.executable
    # 1. build the wheel from a copy (the checkout gets no build/ or *.egg-info)
    _run(UV, "build", "--wheel", "--no-build-isolation", "--offline", "--python", python,
         "--out-dir", str(out), str(source))  # fmt: skip
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    names = _aql_names()
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = set(wheel.namelist())
    assert {f"graphrag/_aql/{n}.aql" for n in names["queries"]} <= members
    assert {f"graphrag/_aql/analyst/{n}" for n in names["analyst"]} <= members
    assert {f"graphrag/_aql/fragments/{n}" for n in names["fragments"]} <= members
    assert not any(m.startswith("aql/") for m in members)  # nothing at the top level
    # the web explorer's page and vendored script ship as package data of api
    ui = {p.relative_to(ROOT).as_posix() for p in (ROOT / "api" / "ui").rglob("*") if p.is_file()}
    assert {"api/ui/index.html", "api/ui/vendor/cytoscape.min.js"} <= ui
    assert ui <= members, sorted(ui - members)

    # 2. install it alone into a fresh venv; dependencies come from this interpreter
    _run(UV, "venv", "--quiet", "--offline", "--python", python, str(venv))
    fresh = venv / "bin" / "python"
    _run(UV, "pip", "install", "--quiet", "--offline", "--no-deps", "--python", str(fresh),
         str(wheels[0]))  # fmt: skip
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run(str(fresh), "-c", where).stdout.strip())
    (purelib / "zz_borrowed_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )

    # 3. from outside the checkout, every query file loads from the installed package
    done = _run(str(fresh), "-c", CHECK, json.dumps(names), cwd=tmp_path)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    installed = purelib.resolve() / "graphrag"
    assert Path(found["graphrag"]).is_relative_to(installed), found["graphrag"]
    assert Path(found["folder"]).resolve() == installed / "_aql"
    assert found["loaded"] == names["queries"]
    assert found["analyst"] == names["analyst"]
    assert found["fragments"] == names["fragments"]
    # the installed copy assembles every query (includes expanded) exactly as the checkout
    assert found["sha256"] == _assembled_digests(names["queries"])
