"""pytest configuration: the `gpu` marker and shared fixtures.

Tests marked `gpu` need a real CUDA GPU and skip, with the reason, where
there is none. `fake_cuda_lib` is the stand-in libcuda built with the C tests
(tests/fake_cuda): tests that use it run in a subprocess with
EMBER_CUDA_DRIVER pointing at it, so the CUDA code paths of the runtime and
the package run without a GPU. It is a test double, not a GPU.

PTX checking without a GPU: `check_ptx(ptx, sm)` assembles PTX text with the
CUDA toolkit's `ptxas -arch=sm_XX` and fails the test with ptxas's own
messages when it rejects it; the `ptxas` fixture skips a test, saying why,
where no ptxas is found. Use both to check a kernel's PTX for sm_80 and
sm_90:

    from conftest import PTX_TARGETS, check_ptx

    @pytest.mark.parametrize("cc", PTX_TARGETS)   # (8, 0) and (9, 0)
    def test_my_kernel_ptx(nvvm, ptxas, cc):      # skip without libNVVM / ptxas
        ptx = _ember.nvvm_compile(ir, cc=cc)
        check_ptx(ptx, cc)                        # or 90, "90", "sm_90"

The `nvvm` fixture is `_ember.nvvm_version()` (versions, and where libNVVM
and libdevice were found); it skips the test, with the reason, without them.

ptxas is looked for next to the libNVVM ember loaded (same toolkit, so the
PTX ISA version matches), then in bin/ of the CUDA root EMBER_NVVM names,
$CUDA_HOME, $CUDA_PATH, /usr/local/cuda, the nvidia pip wheels
(nvidia/cu13, nvidia/cuda_nvcc) and PATH. EMBER_PTXAS names the file
itself and is then the only place tried.
"""

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a real CUDA GPU (skips without one)")


def _real_gpu_reason():
    from ember import _ember
    if os.environ.get("EMBER_CUDA_DRIVER"):
        return "EMBER_CUDA_DRIVER is set (a test double may be loaded)"
    if _ember.device_count("cuda") == 0:
        return "no CUDA GPU: " + _ember.kind_unavailable_reason("cuda")
    return None


def pytest_collection_modifyitems(config, items):
    reason = None
    for item in items:
        if "gpu" in item.keywords:
            if reason is None:
                reason = _real_gpu_reason() or ""
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def cpu_device():
    """Makes the cpu device current for the test (kernels run only there in
    this build), then restores the previous device."""
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set(("cpu", 0))
    yield
    _devices._state.set(saved)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def kernel_device(request):
    """Runs the test once on the cpu device and once on CUDA GPU 0 (the
    second is `gpu`-marked: it skips without a real GPU). The kernel suites
    that use it compare each device's results with NumPy."""
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set((request.param, 0))
    yield request.param
    _devices._state.set(saved)


@pytest.fixture(scope="session")
def fake_cuda_lib():
    path = os.environ.get("EMBER_FAKE_CUDA_LIB") or str(
        ROOT / "build" / "default" / "tests" / "libember_fake_cuda.so")
    if not Path(path).exists():
        pytest.skip(f"the fake CUDA driver is not built ({path}); run tools/dev build")
    return path


def run_python(code, env_extra=None, check=True):
    """Run `code` in a fresh interpreter with the package on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


# ---- libNVVM and PTX checking with ptxas --------------------------------------

# The compute capabilities every kernel's PTX is checked for: Ampere, Hopper.
PTX_TARGETS = [(8, 0), (9, 0)]


@pytest.fixture(scope="session")
def nvvm():
    """_ember.nvvm_version(); skips the test, saying where ember looked, when
    libNVVM or libdevice is not found."""
    from ember import _ember
    from ember.errors import CudaSupportError
    try:
        info = _ember.nvvm_version()
    except CudaSupportError as e:
        pytest.skip(f"no libNVVM: {e}")
    if info["libdevice"] is None:
        pytest.skip(f"libNVVM at {info['library']} has no libdevice next to it")
    return info


def _ptxas_candidates():
    """(place, path) pairs where ptxas may be, in the order they are tried."""
    def up_from(path, levels):
        p = Path(path)
        for parent in list(p.parents)[:levels]:
            yield parent
    roots = []
    try:
        from ember import _ember
        lib = _ember.nvvm_version()["library"]
        # libnvvm.so sits in <root>/nvvm/lib64 or <root>/lib: ptxas in <root>/bin.
        roots += [(f"next to libNVVM ({lib})", r) for r in up_from(lib, 3)]
    except Exception:  # no libNVVM, or the extension is not built
        pass
    nvvm = os.environ.get("EMBER_NVVM")
    if nvvm:
        roots += [(f"EMBER_NVVM={nvvm}", r) for r in [Path(nvvm), *up_from(nvvm, 3)]]
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            roots.append((f"{var}={os.environ[var]}", Path(os.environ[var])))
    roots.append(("/usr/local/cuda", Path("/usr/local/cuda")))
    sites = list(site.getsitepackages()) + [site.getusersitepackages()]
    for sp in sites:
        for wheel in ("nvidia/cu13", "nvidia/cuda_nvcc"):
            roots.append((f"{sp}/{wheel}", Path(sp) / wheel))
    for place, root in roots:
        yield place, root / "bin" / "ptxas"
    on_path = shutil.which("ptxas")
    yield "PATH", Path(on_path) if on_path else None


def find_ptxas():
    """(path, None) for the ptxas to use, or (None, reason) naming every
    place tried."""
    only = os.environ.get("EMBER_PTXAS")
    if only:
        if os.access(only, os.X_OK):
            return only, None
        return None, f"EMBER_PTXAS={only} is not an executable (the only place tried while set)"
    tried = []
    for place, path in _ptxas_candidates():
        if path is not None and path.is_file() and os.access(path, os.X_OK):
            return str(path), None
        if place not in tried:
            tried.append(place)
    return None, "ptxas not found (looked in bin/ of: " + ", ".join(tried) + ")"


_ptxas_found = None


def _ptxas_path():
    global _ptxas_found
    if _ptxas_found is None:
        _ptxas_found = find_ptxas()
    return _ptxas_found


@pytest.fixture(scope="session")
def ptxas():
    """The path of ptxas; skips the test, with where it looked, when none is
    found. Request it in every test that calls check_ptx."""
    path, reason = _ptxas_path()
    if path is None:
        pytest.skip(reason)
    return path


def _sm_number(sm):
    if isinstance(sm, tuple):
        return f"{sm[0]}{sm[1]}"
    text = str(sm)
    return text[3:] if text.startswith("sm_") else text


def check_ptx(ptx, sm):
    """Assembles `ptx` (str or bytes) with `ptxas -arch=sm_<sm> -o /dev/null`.
    `sm` is 90, "90", "sm_90" or (9, 0). Fails the calling test with ptxas's
    stderr when it rejects the PTX; skips it when there is no ptxas."""
    path, reason = _ptxas_path()
    if path is None:
        pytest.skip(reason)
    arch = "sm_" + _sm_number(sm)
    data = ptx.encode() if isinstance(ptx, str) else bytes(ptx)
    # ptxas reads a file, not stdin; "-" is not accepted by every version.
    import tempfile
    with tempfile.NamedTemporaryFile("wb", suffix=".ptx") as f:
        f.write(data)
        f.flush()
        # a kernel calling a foreign function (cuda.declare_device) declares it
        # `.extern .func`: assembled as relocatable code (-c), as the driver's
        # linker takes it
        reloc = ["-c"] if b".extern .func" in data else []
        proc = subprocess.run([path, f"-arch={arch}", *reloc, "-o", "/dev/null", f.name],
                              capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"ptxas -arch={arch} rejected the PTX (exit {proc.returncode}):\n"
                    f"{proc.stderr.strip() or proc.stdout.strip()}", pytrace=False)


# ---- Every kernel the tests compile is also compiled to PTX and assembled -----
#
# CI has no GPU, so the CUDA path is checked up to machine code: each kernel
# a test compiles for the cpu device (each signature) is also compiled for
# every PTX_TARGETS compute capability with libNVVM and assembled by ptxas,
# after the test; a rejection fails that test. EMBER_TEST_PTX=0 turns it off
# (quick local runs); without libNVVM or ptxas it is skipped, and the run's
# summary says why.

_compiled_in_test = []
_ptx_stats = {"kernels": 0, "skipped": None}


def _record_cpu_compiles():
    from ember._compiler import dispatcher
    if getattr(dispatcher.Dispatcher._compile, "_ptx_recording", False):
        return
    original = dispatcher.Dispatcher._compile

    def compile_and_record(self, sig, cc=None, lineinfo=None):
        kernel = original(self, sig, cc, lineinfo)
        if cc is None:
            _compiled_in_test.append((self, sig))
        return kernel

    compile_and_record._ptx_recording = True
    dispatcher.Dispatcher._compile = compile_and_record


def _ptx_check_reason():
    if os.environ.get("EMBER_TEST_PTX", "1").strip() == "0":
        return "EMBER_TEST_PTX=0"
    from ember import _ember
    from ember.errors import CudaSupportError
    try:
        _ember.nvvm_version()
    except CudaSupportError as e:
        return f"no libNVVM: {e}"
    path, reason = _ptxas_path()
    return reason


@pytest.fixture(autouse=True)
def _kernels_also_to_ptx():
    _record_cpu_compiles()
    _compiled_in_test.clear()
    yield
    compiled = list(_compiled_in_test)
    _compiled_in_test.clear()
    if not compiled:
        return
    if _ptx_stats["skipped"] is None:
        _ptx_stats["skipped"] = _ptx_check_reason() or ""
    if _ptx_stats["skipped"]:
        return
    for disp, sig in compiled:
        for cc in PTX_TARGETS:
            try:
                # sm_90 with line tables: the textual NVVM IR path gets checked too
                kernel = disp.compile_cuda(sig, cc, lineinfo=cc == PTX_TARGETS[-1])
            except Exception as e:  # the CPU compiled it: CUDA must too
                pytest.fail(f"{disp.__qualname__} compiled for the cpu device but not for "
                            f"CUDA cc {cc}: {type(e).__name__}: {e}", pytrace=False)
            check_ptx(kernel.ptx, cc)
        _ptx_stats["kernels"] += 1


def pytest_terminal_summary(terminalreporter):
    if _ptx_stats["skipped"]:
        terminalreporter.write_line(f"PTX check of the kernels skipped: {_ptx_stats['skipped']}")
    elif _ptx_stats["kernels"]:
        terminalreporter.write_line(
            f"PTX check: {_ptx_stats['kernels']} kernel signatures compiled with libNVVM and "
            f"assembled by ptxas for " + ", ".join(f"sm_{a}{b}" for a, b in PTX_TARGETS) +
            " (the last with line tables)")
