"""`pip install .` works for a Python that has NumPy, without network access.

Builds a copy of the checkout in a fresh virtual environment (created with
--system-site-packages, so it sees Debian's NumPy and setuptools) and
imports the installed package from outside the source tree."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_builds_a_working_package(tmp_path):
    if subprocess.run([sys.executable, "-c", "import ensurepip"], capture_output=True).returncode:
        pytest.skip("this Python has no venv/ensurepip (Debian: python3-venv)")
    if not (shutil.which("llvm-config-14") or shutil.which("llvm-config")):
        # The GPU bundle's copy of the tests runs there (tools/gpu-bundle).
        pytest.skip("no llvm-config: pip install . builds libember, which needs LLVM")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "*.so", "__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the venv's copy
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index",
                          str(src)], capture_output=True, text=True, timeout=900, env=env)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import numpy as np, ember; from ember import cuda;"
         "d = cuda.to_device(np.arange(6.0).reshape(2, 3));"
         "assert np.array_equal(d.T.copy_to_host(), np.arange(6.0).reshape(2, 3).T);"
         "print(ember.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert check.returncode == 0, check.stderr
    assert str(venv) in check.stdout  # imported the installed copy, not the checkout
