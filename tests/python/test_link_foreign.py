"""Foreign functions: cuda.declare_device(name, sig, link=...) and
cuda.jit(link=[...]) (python/ember/cuda/_foreign.py, core/lower_foreign.c,
devices/cuda/cuda_link.c, devices/cuda/nvrtc.c).

On the cpu device the kernels really run, calling C implementations (a .c
compiled by the host's compiler, a .so), and are compared with NumPy. The
GPU side is checked without a GPU: a .cu compiled to PTX by NVRTC, the
kernel's PTX and it assembled by ptxas and linked by nvlink, and the
driver's linker calls (cuLink*) seen through the fake driver."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, find_ptxas, run_python

from ember import cuda
from ember.errors import TypingError, UnsupportedError

C_SOURCE = r"""
#include <stdint.h>
int mul_f32_f32(float *ret, float x, float y) { *ret = x * y; return 0; }
int sum_reduce(float *ret, const float *a, int32_t n)
{
    float s = 0.0f;
    for (int32_t i = 0; i < n; i++)
        s += a[i];
    *ret = s;
    return 0;
}
/* numba's array model, flattened: meminfo, parent, nitems, itemsize, data, shape, strides */
int describe(int64_t *ret, void *meminfo, void *parent, int64_t nitems, int64_t itemsize,
             double *data, int64_t shape0, int64_t stride0)
{
    *ret = (meminfo == 0 && parent == 0) * 1000000 + nitems * 10000 + itemsize * 100 +
           stride0 + (int64_t)data[shape0 - 1] * 0;
    return 0;
}
/* numba's argument model: a complex as its two parts, a bool as a byte */
int cplx(double *ret, double re, double im, int8_t flag)
{
    *ret = flag ? re * 10.0 + im : -1.0;
    return 0;
}
int scale_into(char *ret, double *a, int64_t n, double k)
{
    (void)ret;
    for (int64_t i = 0; i < n; i++)
        a[i] *= k;
    return 0;
}
"""

CU_SOURCE = r"""
extern "C" __device__ int mul_f32_f32(float *return_value, float x, float y)
{
    *return_value = x * y;
    return 0;
}
"""


@pytest.fixture
def csrc(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "impl.c"
    p.write_text(C_SOURCE)
    return str(p)


def test_cpu_c_source_runs(cpu_device, csrc):
    mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)", link=[csrc])
    sum_reduce = cuda.declare_device("sum_reduce", "float32(CPointer(float32), int32)")

    @cuda.jit(link=[csrc])
    def k(r, x, y, total):
        i = cuda.grid(1)
        if i < len(r):
            r[i] = mul(x[i], y[i])
        if i == 0:
            total[0] = sum_reduce(x, len(x))

    rng = np.random.default_rng(1)
    x = rng.random(100).astype(np.float32)
    y = rng.random(100).astype(np.float32)
    r = np.zeros_like(x)
    total = np.zeros(1, np.float32)
    k[4, 32](r, x, y, total)
    np.testing.assert_array_equal(r, x * y)
    assert total[0] == np.cumsum(x, dtype=np.float32)[-1]  # the same sequential float sum


def test_cpu_array_parameter_is_numbas_flattened_model(cpu_device, csrc):
    describe = cuda.declare_device("describe", "int64(float64[:])", link=[csrc])
    scale = cuda.declare_device("scale_into", "void(CPointer(float64), int64, float64)",
                                link=[csrc])

    @cuda.jit
    def k(a, out):
        out[0] = describe(a[::2])
        scale(a, len(a), 3.0)

    a = np.arange(10.0)
    out = np.zeros(1, np.int64)
    k[1, 1](a, out)
    # NULL meminfo and parent, 5 items of 8 bytes, stride 16 bytes
    assert out[0] == 1000000 + 5 * 10000 + 8 * 100 + 16
    np.testing.assert_array_equal(a, np.arange(10.0) * 3.0)  # written through the pointer


def test_cpu_device_function_calls_foreign(cpu_device, csrc):
    mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)", link=[csrc])

    @cuda.jit(device=True)
    def square_plus(x, c):
        return mul(x, x) + c

    @cuda.jit
    def k(r, x):
        i = cuda.grid(1)
        if i < len(r):
            r[i] = square_plus(x[i], np.float32(1.0)) + mul(x[i], np.float32(2.0))

    x = np.linspace(-3, 3, 50).astype(np.float32)
    r = np.zeros_like(x)
    k[2, 32](r, x)
    np.testing.assert_allclose(r, x * x + 1 + 2 * x, rtol=1e-6)


def test_cpu_complex_and_bool_arguments(cpu_device, csrc):
    f = cuda.declare_device("cplx", "float64(complex128, boolean)", link=[csrc])

    @cuda.jit
    def k(out, z):
        i = cuda.grid(1)
        if i < len(z):
            out[i] = f(z[i], z[i].real > 0)

    z = np.array([3 + 4j, -2 + 1j, 0.5 - 7j])
    out = np.zeros(3)
    k[1, 32](out, z)
    np.testing.assert_array_equal(out, np.where(z.real > 0, z.real * 10 + z.imag, -1.0))


def test_cpu_shared_library(cpu_device, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    src = tmp_path / "lib.c"
    src.write_text("int twice(long long *ret, long long x) { *ret = 2 * x + 1; return 0; }\n")
    so = tmp_path / "libtwice.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    twice = cuda.declare_device("twice", "int64(int64)")

    @cuda.jit(link=[str(so)])
    def k(a):
        i = cuda.grid(1)
        if i < a.size:
            a[i] = twice(a[i])

    a = np.arange(-20, 20, dtype=np.int64)
    expect = 2 * a + 1
    k[2, 32](a)
    np.testing.assert_array_equal(a, expect)


def test_cpu_without_implementation_names_the_function(cpu_device, tmp_path):
    cu = tmp_path / "f.cu"
    cu.write_text(CU_SOURCE)
    mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)", link=[str(cu)])

    @cuda.jit
    def k(r):
        r[0] = mul(r[0], r[0])

    with pytest.raises(cuda.LinkerError) as e:
        k[1, 1](np.ones(1, np.float32))
    msg = str(e.value)
    assert k._cpu_overloads == {}  # nothing runnable was kept

    @cuda.jit
    def k_typing(r):
        r[0] = mul(r, r[0])  # a typing error is reported before the missing implementation

    with pytest.raises(TypingError, match="does not convert to float32"):
        k_typing[1, 1](np.ones(1, np.float32))
    assert "'mul_f32_f32'" in msg and "cpu device" in msg
    assert "int mul_f32_f32(float *ret, float, float)" in msg and ".c" in msg and ".so" in msg


def test_cpu_c_compile_error_is_linker_error(cpu_device, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.c"
    bad.write_text("int f(int *ret, int x) { return SYNTAX; }\n")
    f = cuda.declare_device("f", "int32(int32)", link=[str(bad)])

    @cuda.jit
    def k(a):
        a[0] = f(a[0])

    with pytest.raises(cuda.LinkerError, match="SYNTAX"):
        k[1, 1](np.ones(1, np.int32))


def test_link_list_errors(tmp_path):
    with pytest.raises(cuda.LinkerError,
                       match=r"Don't know how to link file with extension \.cuh"):
        @cuda.jit("void()", link=["header.cuh"])
        def k1():
            pass
    with pytest.raises(cuda.LinkerError, match="Don't know how to link file with no extension"):
        @cuda.jit("void()", link=["data"])
        def k2():
            pass
    with pytest.raises(cuda.LinkerError) as e:
        @cuda.jit("void(int32[::1])", link=["nonexistent.a"])
        def k3(x):
            x[0] = 0
    assert "nonexistent.a not found" in e.value.args
    with pytest.raises(cuda.LinkerError, match="nothere.ptx not found"):
        cuda.declare_device("f", "int32(int32)", link=["nothere.ptx"])
    with pytest.raises(TypeError, match="link must be a list"):
        cuda.jit(link=3)(lambda: None)
    with pytest.raises(NotImplementedError, match="device=True"):
        cuda.jit(device=True, link=[str(tmp_path)])


def test_linker_object_errors(cpu_device, tmp_path):
    @cuda.require_context
    def make():
        return cuda.Linker.new()

    ln = make()
    with pytest.raises(RuntimeError, match=r"Don't know how to link file with extension \.cuh"):
        ln.add_file_guess_ext("header.cuh")
    with pytest.raises(RuntimeError, match="Don't know how to link file with no extension"):
        ln.add_file_guess_ext("data")
    with pytest.raises(cuda.LinkerError) as e:
        ln.add_file_guess_ext("nonexistent.a")
    assert "nonexistent.a not found" in e.value.args
    with pytest.raises(NotImplementedError, match="max_registers"):
        cuda.Linker.new(max_registers=32)
    ln.add_ptx(".version 8.0\n")
    from ember.errors import CudaSupportError
    with pytest.raises(CudaSupportError, match="needs a CUDA device"):
        ln.complete()
    with pytest.raises(CudaSupportError, match="compute capability"):
        ln.add_cu(CU_SOURCE, "f.cu")


def test_declaration_errors(cpu_device, csrc):
    with pytest.raises(TypeError, match="Return type"):
        cuda.declare_device("f1", "(float32[:],)")
    with pytest.raises(TypeError, match="Return type"):
        cuda.declare_device("f1", (cuda.float32[:],))
    with pytest.raises(TypeError, match="C identifier"):
        cuda.declare_device("not a name", "int32(int32)")
    f = cuda.declare_device("f1", "int32(float32[:])")
    assert f.name == "f1" and f.sig.return_type == cuda.int32
    assert f.sig.args == (cuda.float32[:],)
    with pytest.raises(TypeError, match="call it from a kernel"):
        f(np.zeros(1, np.float32))
    g = cuda.declare_device("sum_reduce", "float32(CPointer(float32), int32)", link=[csrc])

    @cuda.jit
    def wrong_count(a):
        a[0] = g(a)

    with pytest.raises(TypingError, match=r"sum_reduce\(\) takes 2 arguments"):
        wrong_count[1, 1](np.zeros(2, np.float32))

    @cuda.jit
    def wrong_dtype(a):
        a[0] = g(a, 1)

    with pytest.raises(TypingError, match=r"CPointer\(float32\): pass an array of float32"):
        wrong_dtype[1, 1](np.zeros(2, np.float64))

    import ember

    @ember.njit
    def host(a):
        return g(a, 1)

    with pytest.raises(UnsupportedError, match="foreign function"):
        host(np.zeros(2, np.float32))


# ---- GPU code, without a GPU --------------------------------------------------


def test_cu_compiles_with_nvrtc_and_links_with_the_kernel(nvvm, tmp_path):
    from ember import _ember
    try:
        ptx, log = _ember.nvrtc_compile(CU_SOURCE, "functions.cu", (9, 0))
    except Exception as e:  # noqa: BLE001 - no NVRTC here
        pytest.skip(f"NVRTC: {e}")
    assert ".visible .func" in ptx and "mul_f32_f32" in ptx
    mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)")

    @cuda.jit
    def k(r, x, y):
        i = cuda.grid(1)
        if i < len(r):
            r[i] = mul(x[i], y[i])

    arr = ("array", "float32", 1, "A", False)
    kptx = k.compile_cuda((arr, arr, arr), (9, 0)).ptx
    assert ".extern .func" in kptx and "mul_f32_f32" in kptx
    ptxas = find_ptxas()[0]
    nvlink = ptxas and os.path.join(os.path.dirname(ptxas), "nvlink")
    if not ptxas or not os.path.exists(nvlink):
        pytest.skip("no ptxas / nvlink")
    (tmp_path / "k.ptx").write_text(kptx)
    (tmp_path / "f.ptx").write_text(ptx)
    for n in ("k", "f"):
        subprocess.run([ptxas, "-arch=sm_90", "-c", "-o", str(tmp_path / f"{n}.o"),
                        str(tmp_path / f"{n}.ptx")], check=True, capture_output=True)
    ok = subprocess.run([nvlink, "-arch=sm_90", "-o", str(tmp_path / "linked.cubin"),
                         str(tmp_path / "k.o"), str(tmp_path / "f.o")], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    alone = subprocess.run([nvlink, "-arch=sm_90", "-o", str(tmp_path / "alone.cubin"),
                            str(tmp_path / "k.o")], capture_output=True, text=True)
    assert alone.returncode != 0 and "mul_f32_f32" in alone.stderr  # the call is external


def test_one_name_two_signatures_in_one_kernel(nvvm):
    a = cuda.declare_device("mul_f32_f32", "float32(float32, float32)")
    b = cuda.declare_device("mul_f32_f32", "float64(float64, float64)")

    @cuda.jit
    def k(r):
        r[0] = a(r[0], r[0]) + b(r[0], r[0])

    arr = ("array", "float32", 1, "A", False)
    with pytest.raises(TypingError, match="declared twice with different signatures"):
        k.compile_cuda((arr,), (9, 0))


def test_nvrtc_error(nvvm, tmp_path):
    from ember import _ember
    try:
        _ember.nvrtc_compile("", "empty.cu", (9, 0))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"NVRTC: {e}")
    from ember.cuda._foreign import compile_cu
    bad = tmp_path / "error.cu"
    bad.write_text('extern "C" __device__ int bar(int *r, int x) { return SYNTAX; }\n')
    with pytest.raises(cuda.NvrtcError) as e:
        compile_cu(str(bad), (9, 0))
    msg = str(e.value)
    assert "NVRTC Compilation failure" in msg and 'identifier "SYNTAX" is undefined' in msg
    assert 'in the compilation of "error.cu"' in msg


def test_nvrtc_not_found_names_where_it_looked(tmp_path):
    proc = run_python("""
        from ember import _ember
        from ember.errors import CudaSupportError
        try:
            _ember.nvrtc_compile("", "x.cu")
        except CudaSupportError as e:
            print("ERR", e)
    """, {"EMBER_NVRTC": str(tmp_path / "none.so")})
    assert "ERR NVRTC not found: EMBER_NVRTC=" in proc.stdout and "none.so" in proc.stdout


FAKE_SCRIPT = r'''
import ctypes, os, sys
import numpy as np
from ember import cuda
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_log_text.restype = ctypes.c_long
cuda.select_device(0)
tmp = sys.argv[1]

def log():
    buf = ctypes.create_string_buffer(1 << 16)
    fake.fake_cuda_log_text(buf, ctypes.c_size_t(1 << 16))
    return [l for l in buf.value.decode().splitlines() if l.startswith("cuLink")]

mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)",
                          link=[os.path.join(tmp, "functions.cu")])
extra = os.path.join(tmp, "extra.ptx")

@cuda.jit(link=[extra, os.path.join(tmp, "impl.c")])
def k(r, x, y):
    i = cuda.grid(1)
    if i < len(r):
        r[i] = mul(x[i], y[i])

x = np.ones(32, np.float32)
fake.fake_cuda_log(1)
k[1, 32](x, x, x)
lines = log()
assert lines == ["cuLinkCreate", "cuLinkAddData kind=1 kernel.ptx",
                 "cuLinkAddFile kind=1 " + extra,
                 "cuLinkAddData kind=1 functions.cu.ptx", "cuLinkComplete",
                 "cuLinkDestroy"], lines

# without the .cu the fake linker finds the call unresolved
nodef = cuda.declare_device("mul_f32_f32", "float32(float32, float32)")

@cuda.jit(link=[extra])
def k2(r, x, y):
    r[0] = nodef(x[0], y[0])

try:
    k2[1, 1](x, x, x)
except cuda.LinkerError as e:
    assert "Undefined reference to 'mul_f32_f32'" in str(e), e
else:
    raise AssertionError("linked without the definition")

# no GPU file at all: named before the driver is asked
@cuda.jit
def k3(r):
    r[0] = nodef(r[0], r[0])

try:
    k3[1, 1](x)
except cuda.LinkerError as e:
    assert "mul_f32_f32" in str(e) and "link=" in str(e), e
else:
    raise AssertionError("no error")

lto = os.path.join(tmp, "f.ltoir")
@cuda.jit(link=[lto])
def k4(r):
    r[0] = nodef(r[0], r[0])

try:
    k4[1, 1](x)
except cuda.LinkerError as e:   # not LTO-IR: nvJitLink says so, with the file named
    assert "nvJitLink" in str(e) and "f.ltoir" in str(e), e
else:
    raise AssertionError("no error")
# numba's low-level Linker: the same linker, the image returned
from ember.cuda import Linker
kptx = k.compile_cuda((("array", "float32", 1, "A", False),) * 3,
                      tuple(cuda.get_current_device().compute_capability)).ptx
fake.fake_cuda_log(1)
log()
ln = Linker.new()
ln.add_ptx(kptx, "k.ptx")
ln.add_file_guess_ext(os.path.join(tmp, "functions.cu"))
ln.add_file_guess_ext(extra)
image = ln.complete()
assert b".entry" in image and b".visible .func" in image, image[:200]
lines = [l for l in log() if l != "cuLinkCreate"]
assert lines[-5:] == ["cuLinkAddData kind=1 k.ptx", "cuLinkAddData kind=1 functions.cu.ptx",
                      "cuLinkAddFile kind=1 " + extra, "cuLinkComplete", "cuLinkDestroy"], lines
ln = Linker.new()
ln.add_ptx(kptx)
try:
    ln.complete()
except cuda.LinkerError as e:
    assert "Undefined reference to 'mul_f32_f32'" in str(e) and ln.error_log, e
else:
    raise AssertionError("linked without the definition")
print("ok")
'''


def test_fake_driver_link_calls(fake_cuda_lib, nvvm, tmp_path):
    from ember import _ember
    try:
        _ember.nvrtc_compile("", "empty.cu", (9, 0))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"NVRTC: {e}")
    (tmp_path / "functions.cu").write_text(CU_SOURCE)
    (tmp_path / "extra.ptx").write_text(".version 8.0\n.target sm_90\n.address_size 64\n")
    (tmp_path / "impl.c").write_text(C_SOURCE)
    (tmp_path / "f.ltoir").write_bytes(b"\x7fLTO")
    script = tmp_path / "s.py"
    script.write_text(FAKE_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_CUDA_DRIVER=fake_cuda_lib,
               FAKE_CUDA_DEVICES="1")
    env.pop("EMBER_DEVICE", None)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr


def _ltoir(source, name):
    """NVVM LTO-IR of CUDA C `source` for sm_90, by NVRTC (-dlto), or a skip."""
    import ctypes
    import glob
    libs = sorted(glob.glob("/usr/local/cuda/lib64/libnvrtc.so*"))
    if not libs:
        pytest.skip("no NVRTC to make LTO-IR with")
    rtc = ctypes.CDLL(libs[0])
    prog = ctypes.c_void_p()
    assert rtc.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0,
                                  None, None) == 0
    opts = (ctypes.c_char_p * 3)(b"-arch=sm_90", b"-dlto", b"-rdc=true")
    r = rtc.nvrtcCompileProgram(prog, 3, opts)
    if r != 0:  # e.g. 7: its builtins library not found where it runs (a chroot)
        rtc.nvrtcGetErrorString.restype = ctypes.c_char_p
        pytest.skip(f"NVRTC cannot make LTO-IR here: {rtc.nvrtcGetErrorString(r).decode()}")
    n = ctypes.c_size_t()
    assert rtc.nvrtcGetLTOIRSize(prog, ctypes.byref(n)) == 0
    buf = ctypes.create_string_buffer(n.value)
    assert rtc.nvrtcGetLTOIR(prog, buf) == 0
    rtc.nvrtcDestroyProgram(ctypes.byref(prog))
    return buf.raw


def _symbols(cubin_path):
    """{name: (type, section)} of an ELF's symbol table, by readelf."""
    import shutil
    if not shutil.which("readelf"):
        pytest.skip("no readelf to read the cubin")
    out = subprocess.run(["readelf", "-sW", str(cubin_path)], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[3] in ("FUNC", "OBJECT", "NOTYPE"):
            syms[f[-1]] = (f[3], f[-2])
    return syms


def test_lto_ir_links_with_nvjitlink(tmp_path):
    """An .ltoir in link= goes through nvJitLink with -lto, with the
    kernel's PTX: the cubin defines the kernel and the foreign function
    (what a GPU then loads; ember._ember.lto_link is that step alone)."""
    import re
    from ember import _ember
    lto = tmp_path / "f.ltoir"
    lto.write_bytes(_ltoir(CU_SOURCE, "f.cu"))
    mul = cuda.declare_device("mul_f32_f32", "float32(float32, float32)", link=[str(lto)])

    @cuda.jit(link=[str(lto)])
    def k(r, a, b):
        i = cuda.grid(1)
        r[i] = mul(a[i], b[i])

    ptx = k.compile_cuda((("array", "float32", 1, "A", False),) * 3, (9, 0)).ptx
    entry = re.search(r"\.entry\s+(\w+)", ptx).group(1)
    try:
        cubin = _ember.lto_link((9, 0), ptx, [(5, None, str(lto))])
    except RuntimeError as e:  # CudaSupportError: no libnvJitLink
        pytest.skip(str(e))
    assert cubin[:4] == b"\x7fELF"
    (tmp_path / "k.cubin").write_bytes(cubin)
    syms = _symbols(tmp_path / "k.cubin")
    for name in (entry, "mul_f32_f32"):
        assert syms[name][0] == "FUNC" and syms[name][1] != "UND", (name, syms.get(name))
    # the same from memory; an LTO-IR without the function: nvJitLink's undefined reference
    assert _ember.lto_link((9, 0), ptx, [(5, lto.read_bytes(), "f.ltoir")])[:4] == b"\x7fELF"
    other = _ltoir(CU_SOURCE.replace("mul_f32_f32", "other_fn"), "g.cu")
    with pytest.raises(ValueError, match="Undefined reference to 'mul_f32_f32'"):
        _ember.lto_link((9, 0), ptx, [(5, other, "g.ltoir")])
    with pytest.raises(ValueError, match=r"nvJitLink: adding bad\.ltoir failed"):
        _ember.lto_link((9, 0), ptx, [(5, b"\x7fLTO", "bad.ltoir")])
