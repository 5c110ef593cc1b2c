"""The wheel users install: one top-level package, and every module in it imports.

Built from this checkout, unpacked into a folder of its own and imported from there in a fresh
interpreter, so a module that ships but cannot be imported (v0.2's `providers/base.py` imported
names that no longer existed) fails here, whatever the folder names in the checkout are."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (found,) = out.glob("mlreg-*.whl")
    return found


def test_one_top_level_package_and_every_module_imports(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(".py")]
        z.extractall(tmp_path / "site")
    assert {n.split("/", 1)[0] for n in names} == {"mlreg"}
    modules = sorted(n[: -len(".py")].replace("/", ".").removesuffix(".__init__") for n in names)
    assert "mlreg.providers.base" not in modules
    assert len(modules) > 60
    script = (
        "import importlib, sys\n"
        "site = sys.argv[1]\n"
        "for m in sys.argv[2:]:\n"
        "    mod = importlib.import_module(m)\n"
        "    assert mod.__file__.startswith(site), (m, mod.__file__)  # the wheel's, not the checkout's\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "site"), *[m for m in modules if m != "mlreg.__main__"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
