"""Every program in examples/ runs on the cpu device and exits with status 0
(each asserts its own result against NumPy). The demo (``tools/dev run``)
also writes the Mandelbrot set as a PNG and exits with status 1 when a
result differs from NumPy's."""

import os
import pathlib
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DEMO = ROOT / "examples" / "demo.py"
# starts a Dask cluster: test_dask.py runs it small, bounded, its workers killed after
CLUSTER = {"dask_mandelbrot.py"}
# optional modules an example imports (tools/dev installs them; a bare root may not)
NEEDS = {"mpi_heat.py": ("mpi4py",)}


def run(args):
    env = dict(os.environ, EMBER_DEVICE="cpu")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable] + args, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"demo.py", "saxpy.py", "mandelbrot_kernel.py", "laplace.py",
            "grid2d.py"} <= names


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p != DEMO and p.name not in CLUSTER],
                         ids=[p.name for p in EXAMPLES if p != DEMO and p.name not in CLUSTER])
def test_example_runs(path):
    for module in NEEDS.get(path.name, ()):
        pytest.importorskip(module, reason=f"{path.name} needs {module}")
    proc = run([str(path)])
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"


def read_png(path):
    """(width, height, RGB pixels) of an 8-bit RGB PNG, checking its
    signature, every chunk's CRC and the image data's length."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body), f"bad CRC in chunk {tag}"
        chunks.append((tag, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, colour) == (8, 2), "expected 8-bit RGB"
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + 3 * width)
    assert not rows[:, 0].any(), "the demo writes every row unfiltered"
    return width, height, rows[:, 1:].reshape(height, width, 3)


def test_demo_runs_the_article_and_writes_the_mandelbrot_png(tmp_path):
    png = tmp_path / "pictures" / "m.png"     # a folder that does not exist yet
    proc = run([str(DEMO), str(png)])
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert out.startswith("device: cpu:0 ")
    for title in ("1. Mandelbrot set", "2. distances of", "3. Gaussian density"):
        assert title in out
    assert out.count(" ms   NumPy ") == 3           # ember's time next to NumPy's
    assert f"picture: {png}\n" in out
    assert out.rstrip().endswith("all results match NumPy's")

    width, height, rgb = read_png(png)
    assert (width, height) == (1500, 1000)
    # the picture spans -2..1 x -1..1: the main cardioid's middle (-0.25, 0)
    # is in the set (black), the corner (-2, -1) is far outside it
    assert not rgb[500, 875].any()
    assert rgb[0, 0].any()
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50    # a colour map, not two tones


def test_demo_exits_with_status_1_when_a_result_differs_from_numpy(tmp_path):
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("demo", {str(DEMO)!r})
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)
        demo.mandel_numpy = lambda *area_image_iters: area_image_iters[4].fill(-1)
        sys.argv = ["demo.py", {str(tmp_path / "m.png")!r}]
        demo.main()
        """)
    proc = run(["-c", code])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MISMATCH with NumPy: 1. Mandelbrot set" in proc.stderr
    assert "1500000 of 1500000 pixels differ" in proc.stdout
    assert not (tmp_path / "m.png").exists()


def test_readme_opens_with_a_kernel_that_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n")
    assert readme.count("\n", 0, start) < 10, "the README must open with its kernel example"
    code = readme[start + len("```python\n"):readme.index("```\n", start)]
    assert "@cuda.jit" in code
    script = tmp_path / "readme_kernel.py"     # a file: kernels need their source
    script.write_text(code)
    proc = run([str(script)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "[1. 3. 5. 7.]\n"


def test_readme_gathers_the_differences_from_numba_in_one_section():
    readme = (ROOT / "README.md").read_text()
    heads = [line for line in readme.splitlines()
             if line.startswith("## ") and ("ifferen" in line or "numba" in line)]
    assert heads == ["## Differences from numba.cuda and what is not supported yet"]
    assert "Nothing has executed on a real GPU yet" in readme[:3000]
