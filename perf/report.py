"""Writes perf/RESULTS.md from the results of a full run (perf/results/*.json,
not the -quick ones): per benchmark, the machine, date and commit it was
measured on, a table (median ± half the interquartile range, and the
ratios to ember), its notes and its plot. Other JSON files there (other
benchmarks' formats) are listed key by key.

    perf/run && /usr/bin/python3 perf/report.py
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["launch", "compile", "gpu", "cpu", "jit_bench", "transfers"]


def cell(s, unit):
    if not s:
        return "-"
    if "absent" in s:
        return "absent"
    half = (s.get("q3", s["median"]) - s.get("q1", s["median"])) / 2
    return f"{s['median']:.3g} ± {half:.2g} {unit}" if half else f"{s['median']:.3g} {unit}"


def table(rows):
    out = []
    groups = []
    for r in rows:
        names = list(r["results"])
        if groups and groups[-1][0] == names:
            groups[-1][1].append(r)
        else:
            groups.append((names, [r]))
    for names, group in groups:
        out.append("| case | " + " | ".join(names) + " | ratios |")
        out.append("|---" * (len(names) + 2) + "|")
        for r in group:
            ratios = ", ".join(f"{k} {v:.3g}×" for k, v in r.get("ratios", {}).items()
                               if v is not None)
            out.append(f"| {r['case']} | " + " | ".join(cell(r["results"].get(n), r["unit"])
                                                      for n in names) + f" | {ratios} |")
        out.append("")
    reasons = sorted({(t, s["absent"]) for r in rows for t, s in r["results"].items()
                      if s and "absent" in s})
    for t, why in reasons:
        out.append(f"- absent: {t}: {why}")
    return out


def main():
    files = {p.stem: p for p in sorted((HERE / "results").glob("*.json"))
             if not p.stem.endswith("-quick")}
    names = [n for n in ORDER if n in files] + [n for n in files if n not in ORDER]
    lines = ["# ember benchmark results", "",
             "Written by `perf/report.py` from a full `perf/run` (not `--quick`). Each table "
             "gives the median ± half the interquartile range of repeated runs after a "
             "warm-up, all tools measured in the same run on the same machine; ratios are "
             "medians divided by ember's (above 1: ember is faster, for times). Plots: "
             "`perf/results/*.png` after a run.", ""]
    machine = None
    for name in names:
        try:
            data = json.loads(files[name].read_text())
        except (OSError, ValueError) as e:
            lines += [f"## {name}", "", f"unreadable: {e}", ""]
            continue
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            m = data.get("machine", {})
            if machine is None:
                machine = m
                lines += ["## Machine", ""] + [f"- {k}: {v}" for k, v in m.items()] + [""]
            lines += [f"## {data.get('title', name)}", "",
                      f"Measured {m.get('date', '?')}, commit {m.get('commit', '?')}, "
                      f"{m.get('cpu', '?')}, GPU: {m.get('gpu') or 'none'}.", ""]
            if data["rows"]:
                lines += table(data["rows"])
            else:
                lines.append("**Not run** (no rows): the notes below say why.")
            lines += [""] + [f"- note: {n}" for n in data.get("notes", [])] + [""]
        else:
            lines += [f"## {name} (perf/results/{name}.json)", "", "```",
                      json.dumps(data, indent=1)[:4000], "```", ""]
    # benchmarks that print but write no JSON of this shape: their output
    for txt in sorted((HERE / "results").glob("*.txt")):
        if txt.stem.endswith("-quick") or txt.stem.replace("bench_", "") in names:
            continue
        lines += [f"## Output of perf/{txt.stem}.py", "", "```",
                  txt.read_text().strip()[:6000], "```", ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {HERE / 'RESULTS.md'} from {len(names)} results files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
