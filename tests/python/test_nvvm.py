"""libNVVM: NVVM IR to PTX with `_ember.nvvm_compile`, checked with ptxas.

No GPU is needed: libNVVM and ptxas come from the CUDA toolkit (or the
nvidia pip wheels). Every test skips, saying why, where libNVVM is absent
(the `nvvm` and `ptxas` fixtures and check_ptx come from conftest). The
kernel is hand-written typed-pointer NVVM IR of the shape the NVVM lowering
emits: the NVVM data layout and triple, the kernel marked in
!nvvm.annotations, !nvvmir.version from nvvm_version(), a thread index
read, a libdevice call and a store through a global (addrspace 1) pointer.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PTX_TARGETS, check_ptx, run_python
from ember import _ember


DATALAYOUT = ("e-p:64:64:64-i1:8:8-i8:8:8-i16:16:16-i32:32:32-i64:64:64-i128:128:128-"
              "f32:32:32-f64:64:64-v16:16:16-v32:32:32-v64:64:64-v128:128:128-n16:32:64")


def sin_kernel_ir(nvvm, name="ember_sin_kernel", pointer="float addrspace(1)*"):
    """out[tid.x] = sinf(tid.x / scale), in NVVM IR text."""
    major, minor = nvvm["ir_version"]
    return f"""\
target datalayout = "{DATALAYOUT}"
target triple = "nvptx64-nvidia-cuda"

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare float @__nv_sinf(float)

define void @{name}({pointer} %out, float %scale) {{
entry:
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %x = uitofp i32 %tid to float
  %xs = fdiv float %x, %scale
  %s = call float @__nv_sinf(float %xs)
  %idx = zext i32 %tid to i64
  %p = getelementptr float, {pointer} %out, i64 %idx
  store float %s, {pointer} %p, align 4
  ret void
}}

!nvvm.annotations = !{{!0}}
!0 = !{{void ({pointer}, float)* @{name}, !"kernel", i32 1}}
!nvvmir.version = !{{!1}}
!1 = !{{i32 {major}, i32 {minor}}}
"""


def test_version(nvvm):
    for key in ("version", "ir_version", "debug_version"):
        major, minor = nvvm[key]
        assert isinstance(major, int) and isinstance(minor, int) and major >= 1
    assert Path(nvvm["library"]).name.startswith("libnvvm.so")
    assert Path(nvvm["library"]).is_file()
    assert Path(nvvm["libdevice"]).name == "libdevice.10.bc"
    assert Path(nvvm["libdevice"]).is_file()


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_compile_text_ir_and_assemble(nvvm, ptxas, cc):
    ptx = _ember.nvvm_compile(sin_kernel_ir(nvvm), cc=cc)
    assert f".target sm_{cc[0]}{cc[1]}" in ptx
    assert ".visible .entry ember_sin_kernel(" in ptx
    assert "%tid.x" in ptx
    assert "st.global.f32" in ptx
    # __nv_sinf was linked in from libdevice: no call is left.
    assert "__nv_sinf" not in ptx
    check_ptx(ptx, cc)
    if cc == (8, 0):  # PTX for compute_80 also runs on sm_90 (JIT/ptxas)
        check_ptx(ptx, 90)


def test_compile_bitcode(nvvm, ptxas, tmp_path):
    """LLVM 14 bitcode of typed-pointer IR, as the lowering produces it."""
    llvm_as = shutil.which("llvm-as-14")
    if llvm_as is None:
        pytest.skip("llvm-as-14 (Debian's llvm-14) is not installed to make LLVM 14 bitcode")
    src = tmp_path / "k.ll"
    src.write_text(sin_kernel_ir(nvvm, name="ember_bitcode_kernel"))
    subprocess.run([llvm_as, str(src), "-o", str(tmp_path / "k.bc")], check=True)
    bitcode = (tmp_path / "k.bc").read_bytes()
    assert bitcode[:4] == b"BC\xc0\xde"
    ptx = _ember.nvvm_compile(bitcode, cc=(9, 0))
    assert ".entry ember_bitcode_kernel(" in ptx
    check_ptx(ptx, "sm_90")


def test_fastmath_changes_the_ptx(nvvm, ptxas):
    ir = sin_kernel_ir(nvvm)
    precise = _ember.nvvm_compile(ir, cc=(9, 0))
    fast = _ember.nvvm_compile(ir, cc=(9, 0), fastmath=True)
    assert "div.rn.f32" in precise and ".ftz" not in precise
    assert "div.rn.f32" not in fast
    assert "div.full.ftz.f32" in fast or "div.approx.ftz.f32" in fast
    check_ptx(fast, 90)


def test_lineinfo_and_debug(nvvm, ptxas):
    ir = sin_kernel_ir(nvvm)
    ptx = _ember.nvvm_compile(ir, cc=(9, 0), opt=0, debug=True, lineinfo=True)
    assert ".entry ember_sin_kernel(" in ptx
    check_ptx(ptx, 90)
    with pytest.raises(ValueError, match="needs opt_level 0"):
        _ember.nvvm_compile(ir, cc=(9, 0), opt=3, debug=True)


def test_bytes_and_str_give_the_same_ptx(nvvm):
    ir = sin_kernel_ir(nvvm)
    assert _ember.nvvm_compile(ir) == _ember.nvvm_compile(ir.encode())
    assert ".target sm_90" in _ember.nvvm_compile(bytearray(ir.encode()))  # default cc


def test_bad_ir_raises_value_error_with_nvvm_log(nvvm):
    with pytest.raises(ValueError) as info:
        _ember.nvvm_compile("define void @broken( {\n", cc=(9, 0))
    msg = str(info.value)
    assert "NVVM rejected the IR" in msg
    assert "NVVM_ERROR_COMPILATION" in msg
    assert "ember_module (2, 0): parse expected type" in msg  # NVVM's log: line, column


def test_opaque_pointers_are_rejected(nvvm):
    """NVVM reads LLVM 7 IR: the lowering must emit typed pointers."""
    with pytest.raises(ValueError, match="parse expected type"):
        _ember.nvvm_compile(sin_kernel_ir(nvvm, pointer="ptr addrspace(1)"), cc=(9, 0))


def test_unknown_target_raises_value_error(nvvm):
    with pytest.raises(ValueError, match="compute_99"):
        _ember.nvvm_compile(sin_kernel_ir(nvvm), cc=(9, 9))


def test_argument_errors(nvvm):
    ir = sin_kernel_ir(nvvm)
    with pytest.raises(TypeError, match="ir must be bytes"):
        _ember.nvvm_compile(123)
    with pytest.raises(TypeError, match="cc must be"):
        _ember.nvvm_compile(ir, cc="9.0")
    for level in (1, 5):
        with pytest.raises(ValueError, match="opt must be 0 or 3"):
            _ember.nvvm_compile(ir, opt=level)
    with pytest.raises(ValueError, match="no IR"):
        _ember.nvvm_compile(b"")
    with pytest.raises(TypeError, match="unexpected keyword"):
        _ember.nvvm_compile(ir, arch="sm_90")


def test_not_found_lists_the_places_tried():
    proc = run_python("""
        from ember import _ember
        from ember.errors import CudaSupportError
        for call in (_ember.nvvm_version, lambda: _ember.nvvm_compile("x")):
            try:
                call()
            except CudaSupportError as e:
                print(e)
            else:
                raise SystemExit("no error")
    """, env_extra={"EMBER_NVVM": "/nonexistent"})
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "libNVVM not found" in line
        assert "EMBER_NVVM=/nonexistent is the only place tried" in line
        assert "No such file" in line


def _toolkit_files(nvvm):
    return Path(nvvm["library"]).resolve(), Path(nvvm["libdevice"]).resolve()


def _make_root(root, lib_dir, lib_name, nvvm):
    """A CUDA root at `root` with links to the real libNVVM and libdevice."""
    lib, libdevice = _toolkit_files(nvvm)
    (root / lib_dir).mkdir(parents=True)
    (root / lib_dir / lib_name).symlink_to(lib)
    (root / "nvvm" / "libdevice").mkdir(parents=True, exist_ok=True)
    (root / "nvvm" / "libdevice" / "libdevice.10.bc").symlink_to(libdevice)


def _found_with(env):
    proc = run_python("""
        import os
        from ember import _ember
        v = _ember.nvvm_version()
        print(v["library"]); print(v["libdevice"])
        print(".entry" in _ember.nvvm_compile(open(os.environ["IR_FILE"]).read()))
    """, env_extra=env)
    return proc.stdout.splitlines()


@pytest.mark.parametrize("layout", [
    ("nvidia/cu13", "lib", "libnvvm.so.4"),             # CUDA 13 wheel
    ("nvidia/cuda_nvcc", "nvvm/lib64", "libnvvm.so"),   # CUDA 12 wheel, toolkit
])
def test_ember_nvvm_names_a_root_a_directory_or_the_file(nvvm, tmp_path, layout):
    top, lib_dir, lib_name = layout
    root = tmp_path / top
    _make_root(root, lib_dir, lib_name, nvvm)
    ir_file = tmp_path / "k.ll"
    ir_file.write_text(sin_kernel_ir(nvvm))
    for place in (root, root / lib_dir, root / lib_dir / lib_name):
        lib, libdevice, compiled = _found_with({"EMBER_NVVM": str(place),
                                                "IR_FILE": str(ir_file)})
        assert lib == str(root / lib_dir / lib_name)
        assert libdevice == str(root / "nvvm" / "libdevice" / "libdevice.10.bc")
        assert compiled == "True"


def test_libdevice_missing_is_reported(nvvm, tmp_path):
    lib, _ = _toolkit_files(nvvm)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libnvvm.so").symlink_to(lib)
    proc = run_python("""
        from ember import _ember
        from ember.errors import CudaSupportError
        print(_ember.nvvm_version()["libdevice"])
        try:
            _ember.nvvm_compile("x")
        except CudaSupportError as e:
            print(e)
    """, env_extra={"EMBER_NVVM": str(tmp_path)})
    out = proc.stdout.splitlines()
    assert out[0] == "None"
    assert "libdevice not found next to libNVVM" in out[1]
    assert str(tmp_path / "nvvm" / "libdevice" / "libdevice.10.bc") in out[1]


# ---- the default search order, with the toolkit hidden --------------------
#
# /usr/local/cuda is tried before the pip wheels; to see the wheels found
# and the full "not found" message, these tests run Python in a private
# mount namespace where an empty directory covers the toolkit. That needs
# `unshare` with user namespaces; they skip, saying so, where it is refused.

def _hidden_toolkit_python(tmp_path, nvvm, code, env_extra):
    unshare = shutil.which("unshare")
    toolkit = Path("/usr/local/cuda").resolve()
    lib, _ = _toolkit_files(nvvm)
    if unshare is None or not Path("/usr/local/cuda").exists():
        pytest.skip("needs unshare and a toolkit at /usr/local/cuda to hide")
    if toolkit not in lib.parents:
        pytest.skip(f"libNVVM ({lib}) is not from /usr/local/cuda")
    real, empty = tmp_path / "real", tmp_path / "empty"
    real.mkdir()
    empty.mkdir()
    probe = subprocess.run([unshare, "-rm", "mount", "--bind", str(empty), str(real)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"bind mounts in a user namespace are refused here: {probe.stderr.strip()}")
    script = tmp_path / "script.py"
    script.write_text(code)
    env = dict(os.environ)
    for var in ("CUDA_HOME", "CUDA_PATH", "EMBER_NVVM", "VIRTUAL_ENV", "CONDA_PREFIX"):
        env.pop(var, None)
    env.update(env_extra)
    shell = (f'mount --bind "{toolkit}" "{real}" && mount --bind "{empty}" "{toolkit}" && '
             f'exec "$0" "{script}"')
    proc = subprocess.run([unshare, "-rm", "sh", "-c", shell, sys.executable], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return real, proc.stdout.splitlines()


def test_pip_wheel_found_on_pythonpath(nvvm, tmp_path):
    site_dir = tmp_path / "site"
    root = site_dir / "nvidia" / "cu13"
    lib, libdevice = _toolkit_files(nvvm)
    toolkit = Path("/usr/local/cuda").resolve()
    # Links into where the toolkit stays visible inside the namespace.
    real = tmp_path / "real"
    (root / "lib").mkdir(parents=True)
    (root / "nvvm" / "libdevice").mkdir(parents=True)
    (root / "lib" / "libnvvm.so.4").symlink_to(real / lib.relative_to(toolkit))
    (root / "nvvm" / "libdevice" / "libdevice.10.bc").symlink_to(
        real / libdevice.relative_to(toolkit))
    pythonpath = f"{Path(__file__).resolve().parents[2] / 'python'}:{site_dir}"
    _, out = _hidden_toolkit_python(tmp_path, nvvm, """
from ember import _ember
v = _ember.nvvm_version()
print(v["library"]); print(v["libdevice"])
""", {"PYTHONPATH": pythonpath})
    assert out == [str(root / "lib" / "libnvvm.so.4"),
                   str(root / "nvvm" / "libdevice" / "libdevice.10.bc")]


def test_default_search_not_found_message(nvvm, tmp_path):
    pythonpath = str(Path(__file__).resolve().parents[2] / "python")
    _, out = _hidden_toolkit_python(tmp_path, nvvm, """
from ember import _ember
from ember.errors import CudaSupportError
try:
    _ember.nvvm_version()
except CudaSupportError as e:
    print(e)
""", {"PYTHONPATH": pythonpath, "CUDA_PATH": "/opt/no-cuda"})
    (msg,) = out
    assert msg.startswith("libNVVM not found: looked for libnvvm.so* in nvvm/lib64, "
                          "nvvm/lib, lib64 and lib of CUDA_PATH=/opt/no-cuda, /usr/local/cuda")
    assert "(CUDA_HOME not set)" in msg
    assert "nvidia pip wheels (nvidia/cu13, nvidia/cuda_nvcc) in " in msg
    assert pythonpath in msg
    assert "set EMBER_NVVM" in msg


# ---- ember.cuda.cudadrv.nvvm.NVVM: numba's view of the same library ----------

def test_nvvm_class_reports_the_library_ember_loads(nvvm):
    from ember.cuda.cudadrv.nvvm import NVVM, is_available
    n = NVVM()
    assert n is NVVM()  # one per process, as numba's
    assert n.get_version() == tuple(nvvm["version"])
    assert n.get_ir_version() == tuple(nvvm["ir_version"]) + tuple(nvvm["debug_version"])
    # numba: NVVM 7.0 reads NVVM IR 1.6 and later (CUDA 11.2 on)
    assert n.is_nvvm70 == (tuple(nvvm["ir_version"]) >= (1, 6))
    assert n.library == nvvm["library"]
    assert is_available()


def test_nvvm_class_without_libnvvm():
    proc = run_python("""
        from ember.cuda.cudadrv.nvvm import NVVM, is_available
        from ember.errors import CudaSupportError
        assert not is_available()
        try:
            NVVM()
        except CudaSupportError as e:
            print(e)
        else:
            raise SystemExit("no error")
    """, env_extra={"EMBER_NVVM": "/nonexistent"})
    assert proc.stdout.startswith("libNVVM not found: EMBER_NVVM=/nonexistent")
