"""irdump — shows that a compiler change leaves the generated code unchanged.

    tools/dev python tools/irdump/irdump.py record DIR [pytest args]
    tools/dev python tools/irdump/irdump.py compare BEFORE AFTER

`record` runs the Python test suite (tests/python, or the pytest arguments
given) with every compilation recorded under DIR: the host LLVM IR, the NVVM
IR and the PTX of each kernel and ember.jit function the suite compiles, and
the PTX of each host-compiled kernel compiled again for CUDA 9.0
(sitecustomize.py next to this file says how). `compare` pairs two such
records by the hash of the compiler's input and prints, for each pair that
differs, whether it differs only in the names of LLVM values (%x, %7, @g.1)
or in substance, with a unified diff of the first few. It exits 1 when
anything differs in substance or is recorded in one run only.
"""

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def record(out, pytest_args):
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".kernel-cache"
    env = dict(os.environ)
    env["EMBER_IRDUMP_DIR"] = str(out)
    env["EMBER_CACHE_DIR"] = str(cache)  # a cold disk cache: every kernel is compiled
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    build = Path(os.environ.get("EMBER_BUILD_DIR", ROOT / "build"))
    env.setdefault("EMBER_FAKE_CUDA_LIB", str(build / "default/tests/libember_fake_cuda.so"))
    args = pytest_args or [str(ROOT / "tests/python")]
    rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                         env=env)
    n = sum(1 for p in out.iterdir() if p.suffix in (".ll", ".ptx"))
    print(f"irdump: {n} files recorded in {out} (pytest exit status {rc})")
    return 0


_VALUE = re.compile(r'([%@])("(?:[^"\\]|\\.)*"|[-\w.$]+)')
_TMP = re.compile(r"/tmp/pytest-of-[^/]+/pytest-\d+/")
_PTX_REG = re.compile(r"%(r|rd|f|fd|p|rs|h|hh|b)(\d+)")


# A kernel's symbol is ember_<name>_<n>, n counting the kernels the process
# compiled before it: another test before it changes n, not the code.
_SYMBOL = re.compile(r"\b(ember_\w*?)_\d+(?=_param_\d|\W|$)", re.M)


def _normalise(text, ptx):
    """The text with the kernel symbol's counter left out and value names
    renumbered in order of first appearance (LLVM; PTX has no names)."""
    text = _SYMBOL.sub(r"\1_N", text)
    if ptx:
        return text
    names = {}

    def rename(m):
        sigil, name = m.group(1), m.group(2)
        if sigil == "@" and not re.fullmatch(r"[\w.]*\.\d+|\d+", name):
            return m.group(0)  # a named global or function keeps its name
        k = (sigil, name)
        if k not in names:
            names[k] = f"{sigil}v{len(names)}"
        return names[k]

    return "\n".join(_VALUE.sub(rename, line) for line in text.splitlines())


def _files(d):
    return {p.name: p for p in Path(d).iterdir()
            if p.is_file() and (p.suffix in (".ll", ".ptx", ".err"))}


def compare(before, after, show=3):
    a, b = _files(before), _files(after)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    same = renamed = 0
    changed = []
    for name in sorted(set(a) & set(b)):
        ta, tb = a[name].read_text(errors="replace"), b[name].read_text(errors="replace")
        if ta == tb:
            same += 1
            continue
        ptx = name.endswith(".ptx")
        if _normalise(ta, ptx) == _normalise(tb, ptx):
            renamed += 1
        else:
            changed.append(name)

    # A kernel whose source lives in a per-run temporary directory (pytest's
    # tmp_path) has another key in each run: pair those by their text.
    paired = 0
    if only_a and only_b:
        def text_of(d, name):
            text = _TMP.sub("<tmp>/", (Path(d) / name).read_text(errors="replace"))
            return _normalise(text, name.endswith(".ptx"))
        pool = {}
        for name in only_b:
            pool.setdefault((name.split(".", 1)[1], text_of(after, name)), []).append(name)
        left = []
        for name in only_a:
            hit = pool.get((name.split(".", 1)[1], text_of(before, name)))
            if hit:
                hit.pop()
                paired += 1
            else:
                left.append(name)
        only_a = left
        only_b = sorted(n for names in pool.values() for n in names)

    def label(d, name):
        n = Path(d) / (name.split(".")[0] + ".name")
        return n.read_text().strip() if n.exists() else "?"

    print(f"irdump: {same} identical, {renamed} differ only in value names or the symbol's "
          "counter, "
          f"{len(changed)} differ, {paired} identical under another key (a temporary "
          f"file's path), {len(only_a)} only in {before}, {len(only_b)} only in {after}")
    for name in changed[:show]:
        print(f"\n=== {name}: {label(before, name)}")
        diff = difflib.unified_diff(a[name].read_text().splitlines(),
                                    b[name].read_text().splitlines(), "before", "after",
                                    lineterm="", n=2)
        print("\n".join(list(diff)[:80]))
    for d, names in ((before, only_a), (after, only_b)):
        for name in names[:show]:
            print(f"only in {d}: {name} ({label(d, name)})")
    return 1 if changed or only_a or only_b else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "record":
        return record(argv[1], argv[2:])
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__.strip().split("\n\n")[1])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
