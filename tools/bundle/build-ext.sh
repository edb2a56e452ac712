#!/bin/sh
# build-ext.sh — builds ember's Python extension on this host, against the
# libember.so.0 in lib/ (LLVM linked in), then runs smoke.py.
#
#   ./build-ext.sh              uses python3 on PATH (or $PYTHON)
#   ./build-ext.sh --no-cmake   compiles with cc directly (no cmake/make)
#
# Needs: a Python with NumPy (1.24 ... 2.x) and its headers, a C compiler,
# and cmake with make or ninja (without them, or when cmake's configure
# fails, it falls back to --no-cmake). No LLVM, no network. Written by tools/gpu-bundle; afterwards
#   export PYTHONPATH=<this dir>/src/python
# makes `import ember` use it (src/python/ember holds _ember, libember.so.0
# and libhwloc.so.15, found through RPATH $ORIGIN). To install into a venv
# instead: EMBER_PREBUILT_LIB=<this dir>/lib/libember.so.0 \
#   EMBER_PREBUILT_EXTRA_LIBS=<this dir>/lib/libhwloc.so.15 pip install --no-index src
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
SRC=$HERE/src
PKG=$SRC/python/ember
LIB=$HERE/lib/libember.so.0
MODE=cmake
[ "${1:-}" = "--no-cmake" ] && MODE=direct

say() { printf '[build-ext] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# 1. Can this host load the library at all? (glibc too old, libudev missing)
missing=$(LD_LIBRARY_PATH="$HERE/lib" ldd "$LIB" 2>&1 | grep -E 'not found' || true)
[ -z "$missing" ] || die "lib/libember.so.0 cannot load here:
$missing
(see MANIFEST for what it needs; libudev.so.1 comes with systemd's libudev1)"

# 2. A Python with NumPy and development headers.
command -v "$PY" >/dev/null 2>&1 || die "no $PY; set PYTHON=/path/to/python3"
"$PY" -c "import numpy, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" 2>/dev/null ||
    die "$PY lacks NumPy or Python.h (python3-dev)"
say "Python: $("$PY" -c 'import sys, numpy; print(sys.executable, sys.version.split()[0], "NumPy", numpy.__version__)')"
has() { command -v "$1" >/dev/null 2>&1; }
if [ "$MODE" = cmake ] && ! { has cmake && { has make || has ninja; }; }; then
    say "cmake with make or ninja not found: compiling directly"
    MODE=direct
fi

# 3. Build _ember into src/python/ember.
rm -f "$PKG"/_ember*.so
if [ "$MODE" = cmake ]; then
    gen=""
    has make || gen="-G Ninja"
    # shellcheck disable=SC2086
    cmake -S "$SRC" -B "$HERE/build" $gen -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v "$PY")" \
        -DEMBER_PREBUILT_LIB="$LIB" -DEMBER_PREBUILT_EXTRA_LIBS="$HERE/lib/libhwloc.so.15" \
        -DEMBER_PY_OUT="$PKG" >"$HERE/build-ext.log" 2>&1 || {
        # An old cmake, or one whose FindPython misses NumPy: cc still can.
        tail -20 "$HERE/build-ext.log" >&2
        say "cmake configure failed (log: $HERE/build-ext.log): compiling directly"
        MODE=direct
    }
fi
if [ "$MODE" = cmake ]; then
    cmake --build "$HERE/build" -j 4 >>"$HERE/build-ext.log" 2>&1 ||
        { tail -40 "$HERE/build-ext.log" >&2; die "build failed (log: $HERE/build-ext.log)"; }
else
    CC=${CC:-cc}
    inc=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    npinc=$("$PY" -c "import numpy; print(numpy.get_include())")
    suffix=$("$PY" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
    cp "$LIB" "$HERE/lib/libhwloc.so.15" "$PKG/"
    # The flags CMakeLists.txt/PrebuiltExt.cmake use ($ORIGIN is for ld).
    # shellcheck disable=SC2016
    "$CC" -std=gnu11 -O2 -fPIC -shared -fvisibility=hidden -DEMBER_EXPORT_INTERNAL \
        -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION -I"$SRC/include" -I"$SRC" -I"$inc" -I"$npinc" \
        "$SRC"/python/ext/*.c -o "$PKG/_ember$suffix" "$PKG/libember.so.0" '-Wl,-rpath,$ORIGIN' \
        >"$HERE/build-ext.log" 2>&1 || { tail -40 "$HERE/build-ext.log" >&2; die "cc failed"; }
fi
say "built $(ls "$PKG"/_ember*.so)"

# 4. Smoke test: import, detect, a kernel on the CPU (and on the GPU if any).
cd "$HERE"
PYTHONPATH="$SRC/python" EMBER_DEVICE=cpu "$PY" "$HERE/smoke.py" cpu || die "smoke test on the CPU FAILED"
if PYTHONPATH="$SRC/python" "$PY" -c "from ember import cuda; raise SystemExit(not cuda.is_available())"; then
    PYTHONPATH="$SRC/python" "$PY" "$HERE/smoke.py" gpu || die "smoke test on the GPU FAILED"
else
    say "no CUDA GPU visible: GPU smoke test skipped"
fi
say "ok. Use it with: export PYTHONPATH=$SRC/python"
say "GPU tests (need pytest): PYTHONPATH=$SRC/python $PY -m pytest $SRC/tests/python -m gpu"
