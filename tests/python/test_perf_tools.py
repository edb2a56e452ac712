"""The benchmark suite's own helpers (perf/_common.py, perf/plot.py,
perf/report.py): statistics computed independently here, ratios, and the
plotter and report tolerating results files of any shape (other benchmarks
write their own keys). The benchmarks themselves run in CI as
`perf/run --quick`."""

import importlib
import json
import statistics
import sys

import pytest

from conftest import ROOT


@pytest.fixture
def perf(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "perf"))
    mods = {n: importlib.import_module(n) for n in ("_common", "plot", "report")}
    yield mods
    for n in mods:
        sys.modules.pop(n, None)


def test_summarize_gives_median_and_quartiles(perf):
    xs = [5.0, 1.0, 4.0, 2.0, 3.0, 100.0, 2.5]
    s = perf["_common"].summarize(xs, scale=10.0)
    scaled = sorted(x * 10 for x in xs)
    q = statistics.quantiles(scaled, n=4)
    assert s["median"] == statistics.median(scaled) == 30.0
    assert (s["q1"], s["q3"]) == (q[0], q[2])
    assert s["min"] == 10.0 and s["max"] == 1000.0 and s["n"] == 7


def test_measure_counts_calls_and_ratio(perf):
    C = perf["_common"]
    calls = []
    s = C.measure(lambda: calls.append(1), number=3, repeat=4, warmup=2)
    assert len(calls) == 2 + 3 * 4 and s["n"] == 4 and s["median"] >= 0
    assert C.ratio({"median": 6.0}, {"median": 2.0}) == 3.0
    assert C.ratio(C.absent("no GPU"), {"median": 2.0}) is None
    r = C.row("case", "ms", {"ember": {"median": 2.0, "q1": 1, "q3": 3},
                             "numba": {"median": 5.0, "q1": 4, "q3": 6},
                             "cupy": C.absent("not installed")})
    assert r["ratios"] == {"numba/ember": 2.5}


def test_plot_and_report_tolerate_any_json(perf, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = {"title": "t", "machine": {"date": "d"}, "rows": [
        {"case": "a", "unit": "ms", "results": {"ember": {"median": 1.0, "q1": 0.5, "q3": 2.0},
                                                "numba": {"absent": "not installed"}}},
        {"case": "b", "unit": "GB/s", "results": {"ember": {"median": 3.0}}}]}
    other = {"n": 4096, "ember_us": 3.1, "nested": {"x": [1, 2.5]}, "flag": True, "s": "x"}
    files = {"good.json": good, "other.json": other, "empty.json": {"rows": []}}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "broken.json").write_text("{not json")
    assert perf["plot"].draw(tmp_path / "good.json", plt).exists()
    assert perf["plot"].draw(tmp_path / "other.json", plt).exists()
    assert perf["plot"].draw(tmp_path / "empty.json", plt) is None
    assert perf["plot"].main([str(tmp_path / "broken.json")]) == 0   # reported, skipped
    leaves = dict(perf["plot"].numeric_leaves(other))
    assert leaves == {"n": 4096.0, "ember_us": 3.1, "nested.x[0]": 1.0, "nested.x[1]": 2.5}
    lines = perf["report"].table(good["rows"])
    assert any("| a | 1 ± 0.75 ms | absent |" in l for l in lines)
    assert "- absent: numba: not installed" in lines


def run_jit_bench(tmp_path, out, extra_path=None):
    import os
    import subprocess
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        ([str(extra_path)] if extra_path else []) + [str(ROOT / "python")])
    proc = subprocess.run([sys.executable, str(ROOT / "perf" / "jit_bench.py"), "--quick",
                           "--json", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_jit_bench_writes_rows_with_peers_and_ratios(perf, tmp_path):
    """perf/jit_bench.py --quick --json FILE: the _common.py shape (so plot and
    report read it), a row per case with ember measured, numba measured with a
    numba/ember ratio when it is installed; with numba hidden, numba absent
    (not faked) and no ratios."""
    have_numba = perf["_common"].numba_version() is not None
    data = run_jit_bench(tmp_path, tmp_path / "jit.json")
    assert data["benchmark"] == "jit_bench" and data["quick"] is True
    cases = [r["case"] for r in data["rows"]]
    assert len(cases) == 19 and "first call hypot (compile)" in cases
    assert any(c.startswith("a @ b of two") for c in cases)
    assert any(c.startswith("k-means") for c in cases) and \
        any(c.startswith("sorting the rows") for c in cases)
    assert "prange sum of sqrt, 100000 float64 (parallel=True)" in cases
    assert "prange Lennard-Jones energy, 300 atoms (parallel=True)" in cases
    assert "mandelbrot 100x150" in cases and \
        "vectorize gaussian_pdf 10000 float32 (parallel)" in cases
    for r in data["rows"]:
        assert set(r["results"]) == {"ember", "numba"}, r
        e = r["results"]["ember"]
        assert e["n"] >= 2 and e["q1"] <= e["median"] <= e["q3"], r
        if have_numba:
            n = r["results"]["numba"]
            assert "absent" not in n, r
            assert r["ratios"]["numba/ember"] == pytest.approx(n["median"] / e["median"])
    hidden = tmp_path / "hide"
    (hidden / "numba").mkdir(parents=True)
    (hidden / "numba" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    data = run_jit_bench(tmp_path, tmp_path / "nonumba.json", extra_path=hidden)
    for r in data["rows"]:
        assert r["results"]["numba"] == {"absent": "numba not installed"}, r
        assert "median" in r["results"]["ember"] and r["ratios"] == {}, r


def test_graph_bench_smoke_run(tmp_path):
    """perf/bench_graphs.py --quick: 100 launches one by one and as one graph
    replay give the same result (the script checks), and the row carries
    both timings and their ratios (never judged on time)."""
    import os
    import subprocess
    out = tmp_path / "graphs.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, str(ROOT / "perf" / "bench_graphs.py"), "--quick",
                           "--json", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "launches/graph = " in proc.stdout
    data = json.loads(out.read_text())
    assert data["benchmark"] == "graphs" and data["quick"] is True and data["rows"]
    for r in data["rows"]:
        assert r["case"].startswith("100 launches of a 1024-element update"), r
        res = r["results"]
        assert set(res) == {"ember launches", "ember launches (default stream)", "ember graph"}
        assert all(res[k]["median"] > 0 for k in res), r
        assert r["ratios"]["ember launches/ember graph"] == pytest.approx(
            res["ember launches"]["median"] / res["ember graph"]["median"])
