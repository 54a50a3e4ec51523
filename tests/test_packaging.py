"""The wheel as users get it: built from a copy of the sources, installed into a fresh venv, run.

The venv borrows the dependencies (tortoise-orm, libcst, ...) from the test run's own
site-packages through a .pth file, which adds that folder to sys.path without running the
.pth files in it: the editable install of the package under test stays out, so the import
really comes from the wheel.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tortoise_march_ext._version import __version__

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"$ {args}\n{result.stdout}\n{result.stderr}"
    return result


def _setuptools_here() -> bool:
    """Return whether this environment can build without isolation (setuptools>=77)."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major >= 77


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources (the worktree gets no build/ folder)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "tortoise_march_ext",
        src / "tortoise_march_ext",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # Without setuptools>=77 here, pip fetches it into an isolated build environment.
    no_isolation = ["--no-build-isolation"] if _setuptools_here() else []
    dist = work / "dist"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        *no_isolation,
        "-w",
        dist,
        src,
        cwd=work,
    )
    (built,) = dist.glob("tortoise_march_ext-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the bin folder of a fresh venv with the wheel installed."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root.parent)
    python = root / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=root.parent,
    )
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root.parent
    ).stdout.strip()
    (Path(purelib) / "_parent_deps.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    return root / "bin"


def test_wheel_holds_py_typed_license_and_metadata(wheel: Path) -> None:
    assert wheel.name == f"tortoise_march_ext-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"tortoise_march_ext-{__version__}.dist-info"
        assert "tortoise_march_ext/py.typed" in names
        assert f"{info}/licenses/LICENSE" in names, sorted(n for n in names if "dist-info" in n)
        license_text = archive.read(f"{info}/licenses/LICENSE").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert license_text.startswith("MIT License")
    assert "the tortoise-march-ext authors" in license_text
    headers = metadata.split("\n\n", 1)[0].splitlines()
    assert f"Version: {__version__}" in headers
    assert "License-Expression: MIT" in headers
    classifiers = {h.removeprefix("Classifier: ") for h in headers if h.startswith("Classifier:")}
    for wanted in (
        "Framework :: AsyncIO",
        "Topic :: Database",
        "Typing :: Typed",
        *(f"Programming Language :: Python :: 3.{minor}" for minor in (10, 11, 12, 13)),
    ):
        assert wanted in classifiers, sorted(classifiers)
    assert "tortoise-march = tortoise_march_ext.cli:main" in entry_points


def test_installed_wheel_runs_version(venv: Path, tmp_path: Path) -> None:
    python = venv / "python"
    where = _run(
        python, "-c", "import tortoise_march_ext; print(tortoise_march_ext.__file__)", cwd=tmp_path
    ).stdout.strip()
    assert where.startswith(str(venv.parent)), f"imported from {where}, not from the wheel"
    assert Path(where).with_name("py.typed").is_file()

    result = _run(python, "-m", "tortoise_march_ext", "--version", cwd=tmp_path)
    assert result.stdout == f"tortoise-march-ext {__version__}\n"
    script = _run(venv / "tortoise-march", "--version", cwd=tmp_path)
    assert script.stdout == f"tortoise-march-ext {__version__}\n"
    usage = subprocess.run(
        [str(venv / "tortoise-march"), "migrate", "--no-such-flag"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: tortoise-march migrate "), usage.stderr
