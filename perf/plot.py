"""One PNG per results file in perf/results/ (matplotlib, Debian's
python3-matplotlib): for files of the _common.py shape, a horizontal bar per
tool and case (median, with the interquartile range as the error bar), one
panel per unit, log scale when the values span more than 100x; for any
other JSON (other benchmarks' files, whatever keys they have), a bar per
numeric value found in it, named by its path. A file that cannot be read or
drawn is reported and skipped; without matplotlib it says so and draws
nothing.

    /usr/bin/python3 perf/plot.py [results/*.json ...]
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def numeric_leaves(obj, path=""):
    """(path, value) of every int/float in a JSON value (bools excluded)."""
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [(path or "value", float(obj))]
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("machine", "quick"):
                continue
            out += numeric_leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += numeric_leaves(v, f"{path}[{i}]")
    return out


def panels(data):
    """{unit: [(label, tool, median, lo, hi)]} of a _common.py results file."""
    out = {}
    for r in data.get("rows", []):
        for tool, s in (r.get("results") or {}).items():
            if isinstance(s, dict) and isinstance(s.get("median"), (int, float)):
                lo = s.get("q1", s["median"])
                hi = s.get("q3", s["median"])
                out.setdefault(r.get("unit", ""), []).append(
                    (r.get("case", "?"), tool, s["median"], lo, hi))
    return out


def draw(path, plt):
    data = json.loads(path.read_text())
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        groups = panels(data)
        title = data.get("title", path.stem)
    else:
        leaves = numeric_leaves(data)
        groups = {"": [(p, "value", v, v, v) for p, v in leaves]}
        title = path.stem
    groups = {u: g for u, g in groups.items() if g}
    if not groups:
        return None
    heights = [max(2.0, 0.32 * len(g) + 1.2) for g in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    tools = sorted({t for g in groups.values() for _, t, *_ in g})
    colors = {t: plt.cm.tab10(i % 10) for i, t in enumerate(tools)}
    for ax, (unit, items) in zip(axes[:, 0], groups.items()):
        labels = [f"{case} — {tool}" if len(tools) > 1 else case for case, tool, *_ in items]
        vals = [m for _, _, m, _, _ in items]
        err = [[max(0.0, m - lo) for _, _, m, lo, _ in items],
               [max(0.0, hi - m) for _, _, m, _, hi in items]]
        y = range(len(items))
        ax.barh(list(y), vals, xerr=err, color=[colors[t] for _, t, *_ in items])
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        positive = [v for v in vals if v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_xscale("log")
        ax.set_xlabel(unit)
    m = data.get("machine", {}) if isinstance(data, dict) else {}
    sub = ", ".join(str(m[k]) for k in ("date", "commit", "cpu", "gpu") if m.get(k))
    fig.suptitle(title + (f"\n{sub}" if sub else ""), fontsize=9)
    fig.tight_layout()
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed (Debian: python3-matplotlib); no plots")
        return 0
    files = [Path(a) for a in argv] or sorted((HERE / "results").glob("*.json"))
    for f in files:
        try:
            out = draw(f, plt)
            print(f"plot: {f.name} -> {out.name}" if out else f"plot: {f.name}: nothing to draw")
        except Exception as e:  # one odd file must not stop the others
            print(f"plot: {f.name} skipped ({type(e).__name__}: {e})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
