"""The extension's sources stay buildable against NumPy 1.24 ... 2.x and
Python 3.11 ... 3.13, and the package follows NumPy 2's protocols.

Only NumPy 1.24 is installed here, so the NumPy 2 side is checked by rule:
built against NumPy 2 headers, PyArray_Descr shows only typeobj, kind,
type, byteorder and type_num (NumPy 2.0 moved the other fields behind
PyDataType_ELSIZE & co., which python/ext/ext.h defines for 1.x headers).
The Python side is checked by compiling every python/ext file against the
headers of each other CPython found (pyenv's 3.12 and 3.13 here), and the
package's sources with that interpreter, warnings as errors."""

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ember import cuda

ROOT = Path(__file__).resolve().parents[2]
EXT = sorted((ROOT / "python" / "ext").glob("*.[ch]"))
SHARED_FIELDS = {"typeobj", "kind", "type", "byteorder", "type_num"}


def test_descriptor_fields_read_directly_are_those_numpy2_keeps():
    bad = []
    for path in EXT:
        src = path.read_text()
        names = set(re.findall(r"PyArray_Descr\s*\*\s*(\w+)", src))
        pattern = r"(?:\b(?:%s)\b|PyArray_DESCR\([^()]*\))\s*->\s*(\w+)" % "|".join(names or {"_"})
        for m in re.finditer(pattern, src):
            if m.group(1) not in SHARED_FIELDS:
                line = src.count("\n", 0, m.start()) + 1
                bad.append(f"{path.name}:{line}: {m.group(0)}")
    assert not bad, "use PyDataType_ELSIZE & co. (ext.h) instead of: " + ", ".join(bad)


def _other_pythons():
    """{"3.12": (interpreter, include dir), ...}: CPythons with headers."""
    found = {}
    cands = glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))
    cands += [shutil.which(f"python3.{m}") for m in range(11, 15)]
    for exe in filter(None, cands):
        try:
            out = subprocess.run(
                [exe, "-c", "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); "
                            "print(sysconfig.get_paths()['include'])"],
                capture_output=True, text=True, timeout=30).stdout.split("\n")
        except OSError:
            continue
        if len(out) >= 2 and Path(out[1], "Python.h").exists() and out[0] >= "3.11":
            found.setdefault(out[0], (exe, out[1]))
    return found


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_extension_compiles_against_newer_python_headers(version):
    _, inc = _other_pythons().get(version, (None, None))
    if not inc or not shutil.which("gcc"):
        pytest.skip(f"no Python {version} with headers (or no gcc) on this machine")
    flags = ["-std=gnu11", "-fsyntax-only", "-Wall", "-Wextra", "-Wno-unused-parameter",
             "-Wno-missing-field-initializers", "-Werror", "-DEMBER_EXPORT_INTERNAL",
             f"-I{ROOT / 'include'}", f"-I{ROOT}", f"-I{inc}", f"-I{np.get_include()}"]
    for src in (ROOT / "python" / "ext").glob("*.c"):
        proc = subprocess.run(["gcc", *flags, str(src)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name} with Python {version}:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_package_compiles_on_newer_python_without_warnings(version):
    # 3.12 turned invalid escapes into SyntaxWarning; 3.13 removed more.
    exe, _ = _other_pythons().get(version, (None, None))
    if not exe:
        pytest.skip(f"no Python {version} on this machine")
    code = ("import pathlib, sys\n"
            "for p in sys.argv[1:]:\n"
            "    compile(pathlib.Path(p).read_text(), p, 'exec')\n")
    files = [str(p) for d in ("python/ember", "tests/python", "examples")
             for p in (ROOT / d).rglob("*.py")]
    proc = subprocess.run([exe, "-W", "error", "-c", code, *files], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_array_protocol_copy_keyword(cpu_device):
    # NumPy 2 calls __array__(dtype, copy=...); copy=False must not copy.
    d = cuda.to_device(np.arange(4.0))
    assert np.array_equal(d.__array__(copy=None), np.arange(4.0))
    assert d.__array__(np.float32, copy=True).dtype == np.float32
    with pytest.raises(ValueError, match="without a copy"):
        d.__array__(copy=False)
