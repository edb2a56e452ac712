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
