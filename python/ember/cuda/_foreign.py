"""Foreign functions: ``cuda.declare_device(name, sig, link=...)`` and
``cuda.jit(link=[...])``, as numba-cuda has them.

A declaration is a name and a signature; kernels call it like a device
function, and the compiler emits a call of ``name`` with numba's
device-function ABI, ``int name(T *ret, args...)`` (core/lower_foreign.c).
Where the code comes from is what ``link=`` lists, on the declaration or
on the kernel:

* on a GPU: ``.cu`` (CUDA C/C++, compiled to PTX by NVRTC), ``.ptx``,
  ``.cubin``, ``.fatbin``, ``.o``, ``.a``, linked with the kernel's PTX by
  the driver's linker (cuLink*, devices/cuda/cuda_link.c); with an
  ``.ltoir`` (NVVM LTO-IR) among them, the whole link goes through
  nvJitLink with -lto instead (devices/cuda/nvjitlink.c).
* on the cpu device: ``.c`` (compiled by the host's C compiler into a
  shared library in ember's cache directory) or ``.so``; the function is
  looked up there and the kernel calls its address.

Each side ignores the other's files. An unknown extension or a missing
file is a LinkerError when the list is given (numba's messages).
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import threading

__all__ = ["ForeignFunction", "Linker", "LinkerError", "NvrtcError", "declare_device"]


class LinkerError(RuntimeError):
    """Linking foreign code failed (numba.cuda.cudadrv.driver.LinkerError)."""


class NvrtcError(Exception):
    """NVRTC could not compile a CUDA C/C++ file (numba's NvrtcError)."""


GPU_KINDS = ("cu", "ptx", "cubin", "fatbin", "o", "a", "ltoir")
CPU_KINDS = ("c", "so")


def check_link(link, what):
    """The list of files of a ``link=`` argument, each checked: a known
    extension (numba's message otherwise) and an existing file."""
    if link is None:
        return []
    if isinstance(link, (str, os.PathLike)):
        link = [link]
    try:
        items = list(link)
    except TypeError:
        raise TypeError(f"{what}: link must be a list of file names, not "
                        f"{type(link).__name__}") from None
    out = []
    for p in items:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"{what}: link entries must be file names, not "
                            f"{type(p).__name__} ({p!r})")
        p = os.fspath(p)
        base = os.path.basename(p)
        ext = base.rsplit(".", 1)[1] if "." in base else ""
        if not ext:
            raise LinkerError(f"Don't know how to link file with no extension ({p}); "
                              f"ember links {', '.join('.' + k for k in GPU_KINDS)} on a "
                              f"GPU and {', '.join('.' + k for k in CPU_KINDS)} on the cpu "
                              "device")
        if ext not in GPU_KINDS + CPU_KINDS:
            raise LinkerError(f"Don't know how to link file with extension .{ext} ({p}); "
                              f"ember links {', '.join('.' + k for k in GPU_KINDS)} on a "
                              f"GPU and {', '.join('.' + k for k in CPU_KINDS)} on the cpu "
                              "device")
        if not os.path.isfile(p):
            raise LinkerError(f"{p} not found")
        out.append(p)
    return out


def _ctype_name(t):
    from .. import types as ty
    if isinstance(t, ty.CPointer):
        return f"{_ctype_name(t.dtype)} *"
    if isinstance(t, ty.VoidPointer):
        return "void *"
    names = {"bool": "_Bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
             "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t",
             "uint32": "uint32_t", "uint64": "uint64_t", "float32": "float",
             "float64": "double", "float16": "_Float16"}
    return names.get(str(t), str(t))


class ForeignFunction:
    """What ``cuda.declare_device`` returns (numba's ExternFunction): the
    foreign function's name and signature, callable from kernels."""

    def __init__(self, name, sig, link=()):
        self.name = name
        self.sig = sig
        self.link = check_link(link, f"cuda.declare_device('{name}')")

    def __repr__(self):
        return f"<ember foreign function {self.name} {self.sig}>"

    def __call__(self, *args, **kwargs):
        raise TypeError(f"'{self.name}' is a foreign device function (cuda.declare_device): "
                        "call it from a kernel")

    def prototype(self):
        """The C prototype ember calls (numba's ABI), for messages."""
        from .. import types as ty
        ret = self.sig.return_type
        rt = "char" if isinstance(ret, ty.NoneType) else _ctype_name(ret)
        params = [f"{rt} *ret"] + [_ctype_name(a) for a in self.sig.args]
        return f"int {self.name}({', '.join(params)})"

    def _descriptors(self):
        """(return, [params], [kinds]) for the compiler: a CPointer(T) is T
        with kind 1, voidptr uint8 with kind 2 (python/ext/compile.c)."""
        from .. import types as ty
        from .._compiler.dispatcher import _desc_for_c
        params, kinds = [], []
        for a in self.sig.args:
            if isinstance(a, ty.CPointer):
                params.append(a.dtype.descriptor())
                kinds.append(1)
            elif isinstance(a, ty.VoidPointer):
                params.append("uint8")
                kinds.append(2)
            else:
                params.append(_desc_for_c(a.descriptor()))
                kinds.append(0)
        return self.sig.return_type.descriptor(), params, kinds


def declare_device(name, sig, link=None, use_cooperative=False):
    """numba-cuda's ``cuda.declare_device``: declares the foreign device
    function `name` with signature `sig` (a string such as
    ``'float32(float32, float32)'`` or a Signature; ``CPointer(T)`` and
    ``voidptr`` parameters take arrays). `link`: files with its code
    (see this module's docstring). Returns a descriptor kernels call."""
    from .. import types as ty
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"cuda.declare_device: the name must be a C identifier, not {name!r}")
    if isinstance(sig, tuple) and not isinstance(sig, ty.Signature):
        raise TypeError("Return type must be provided for device declarations")
    s = ty.as_signature(sig)
    if s.return_type is None:
        raise TypeError("Return type must be provided for device declarations")
    rt = s.return_type
    if not isinstance(rt, (ty.Scalar, ty.NoneType)):
        raise TypeError(f"cuda.declare_device('{name}'): the return type must be a number "
                        f"or void, not {rt}")
    for i, a in enumerate(s.args):
        if not isinstance(a, (ty.Scalar, ty.CPointer, ty.VoidPointer, ty.Array)) or \
                (isinstance(a, ty.Array) and not isinstance(a.dtype, ty.Scalar)):
            raise TypeError(f"cuda.declare_device('{name}'): parameter {i + 1} is {a}; "
                            "foreign functions take numbers, CPointer(T), voidptr and "
                            "arrays of numbers")
    if use_cooperative:
        raise NotImplementedError("cuda.declare_device(use_cooperative=True): cooperative "
                                  "launches are not supported by ember")
    return ForeignFunction(name, s, link)


# ---------------------------------------------------------------------------
# The cpu device: C implementations
# ---------------------------------------------------------------------------

_libs = {}                  # (path, mtime, size) -> ctypes.CDLL
_libs_lock = threading.Lock()


def _compiler():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or \
        shutil.which("clang")
    if not cc:
        raise LinkerError("no C compiler found (cc, gcc or clang on PATH, or $CC) to compile "
                          "the .c files of link= for the cpu device")
    return cc


def _cache_root():
    override = os.environ.get("EMBER_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
    if override:
        return os.path.join(override, "foreign")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ember", "foreign")


def _build_c(path):
    """The shared library compiled from C file `path` (cc -O2 -shared
    -fPIC), kept in ember's cache directory under its content's hash."""
    with open(path, "rb") as f:
        src = f.read()
    cc = _compiler()
    h = hashlib.sha256(src + b"\0" + cc.encode() + b"\0" + os.path.abspath(path).encode())
    root = _cache_root()
    out = os.path.join(root, f"{os.path.basename(path)}.{h.hexdigest()[:24]}.so")
    if os.path.isfile(out):
        return out
    os.makedirs(root, exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", tmp, path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LinkerError(f"compiling {path} for the cpu device failed ({cc} -O2 -shared "
                          f"-fPIC):\n{(r.stderr or r.stdout).strip()}")
    os.replace(tmp, out)
    return out


def _library(path):
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    with _libs_lock:
        lib = _libs.get(key)
        if lib is None:
            so = _build_c(path) if path.endswith(".c") else path
            try:
                lib = ctypes.CDLL(os.path.abspath(so), mode=os.RTLD_NOW | os.RTLD_LOCAL)
            except OSError as exc:
                raise LinkerError(f"cannot load {path} for the cpu device: {exc}") from None
            _libs[key] = lib
    return lib


def cpu_address(decl, kernel_link):
    """The address of `decl`'s C implementation for the cpu device, from
    the .c / .so files of its own link= and then of the kernel's."""
    files = [p for p in list(decl.link) + list(kernel_link)
             if p.rsplit(".", 1)[-1] in CPU_KINDS]
    for p in files:
        lib = _library(p)
        try:
            fn = getattr(lib, decl.name)
        except AttributeError:
            continue
        return ctypes.cast(fn, ctypes.c_void_p).value
    where = f" (not in {', '.join(files)})" if files else ""
    raise LinkerError(
        f"foreign function '{decl.name}' has no implementation for the cpu device{where}: "
        f"give a C source (.c, compiled with the host's C compiler) or a shared library "
        f"(.so) defining `{decl.prototype()}` in link= of cuda.declare_device or of the "
        "kernel (its .cu/.ptx code runs only on a GPU)")


def resolve_cpu(tree, foreign, kernel_link):
    """(`tree` with the address of each foreign function's C implementation,
    the LinkerError of the first one without or None). A missing one gets
    the address 1, never called: the caller compiles the tree (so that a
    typing error is reported first) and then raises the error."""
    if not foreign:
        return tree, None
    callees = list(tree[7])
    error = None
    for key, decl in foreign.items():
        t = callees[key]
        f = t[8]
        try:
            addr = cpu_address(decl, kernel_link)
        except LinkerError as exc:
            error = error or exc
            addr = 1
        callees[key] = t[:8] + ((f[0], f[1], f[2], addr),)
    return tree[:7] + (callees,), error


def gpu_files(foreign, kernel_link):
    """The files linked with a kernel on a GPU: the kernel's link= and its
    foreign functions' (each once, in order)."""
    out = []
    for p in list(kernel_link) + [p for d in foreign.values() for p in d.link]:
        if p.rsplit(".", 1)[-1] in GPU_KINDS and p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------------------
# GPUs: NVRTC and the driver's linker
# ---------------------------------------------------------------------------

# ember_link_kind (include/ember/ember.h): the driver's CUjitInputType
_LINK_KIND = {"cubin": 0, "ptx": 1, "fatbin": 2, "o": 3, "a": 4, "ltoir": 5}
_nvrtc_cache = {}   # (path, mtime, size, cc) -> PTX


def compile_cu(path, cc):
    """PTX of the CUDA C/C++ file `path` for compute capability `cc`,
    compiled by NVRTC (devices/cuda/nvrtc.c) with the CUDA include
    directory on the include path. NvrtcError when it does not compile;
    NVRTC's warnings become a Python warning, as numba's."""
    import warnings
    from .. import _ember
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size, tuple(cc))
    ptx = _nvrtc_cache.get(key)
    if ptx is not None:
        return ptx
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    inc = os.environ.get("NUMBA_CUDA_INCLUDE_PATH") or "/usr/local/cuda/include"
    try:
        ptx, log = _ember.nvrtc_compile(src, os.path.basename(path), tuple(cc),
                                        inc if os.path.isdir(inc) else None)
    except ValueError as exc:  # the message names the file and carries NVRTC's log
        raise NvrtcError(str(exc)) from None
    if log.strip():
        warnings.warn(f"NVRTC log messages whilst compiling {path}:\n\n{log}")
    _nvrtc_cache[key] = ptx
    return ptx


def link_inputs(files, cc):
    """(kind, data or None, name) for each file linked on a GPU."""
    inputs = []
    for p in files:
        ext = p.rsplit(".", 1)[-1]
        if ext == "cu":
            inputs.append((_LINK_KIND["ptx"], compile_cu(p, cc).encode(),
                           os.path.basename(p) + ".ptx"))
        else:
            inputs.append((_LINK_KIND[ext], None, os.path.abspath(p)))
    return inputs


def load_module(dev, ptx, files, names, qualname):
    """The Module of a kernel's PTX on CUDA device `dev`: linked with its
    GPU link files when it has any, else loaded as it is."""
    from .. import _ember
    from ..errors import CudaAPIError
    files = [p for p in files if p.rsplit(".", 1)[-1] in GPU_KINDS]
    if not files:
        if names:
            raise LinkerError(f"kernel {qualname} calls the foreign function"
                              f"{'s' if len(names) > 1 else ''} {', '.join(names)} but no "
                              "link= file gives GPU code for it: add its .cu, .ptx, .cubin, "
                              ".fatbin, .o or .a to cuda.declare_device(..., link=[...]) or "
                              "to the kernel's cuda.jit(link=[...])")
        return _ember.Module("cuda", dev.id, ptx)
    inputs = link_inputs(files, tuple(dev.compute_capability))
    try:
        return _ember.Module("cuda", dev.id, ptx, link=inputs)
    except (CudaAPIError, ValueError) as exc:  # ValueError: nvJitLink's (LTO-IR)
        raise LinkerError(f"linking kernel {qualname} with {', '.join(files)} failed: "
                          f"{exc}") from None


class Linker:
    """numba's ``cuda.cudadrv.driver.Linker``: device code gathered and
    linked by the driver's linker into one image (a cubin),
    ``ember_link_image``. ``Linker.new()`` works anywhere; adding a .cu
    needs a compute capability (``cc=``, or the current CUDA device's) and
    ``complete()`` a CUDA device."""

    @classmethod
    def new(cls, max_registers=0, lineinfo=False, cc=None):
        return cls(max_registers, lineinfo, cc)

    def __init__(self, max_registers=0, lineinfo=False, cc=None):
        if max_registers:
            raise NotImplementedError("Linker(max_registers=...): ember does not pass a "
                                      "register limit to the driver's linker")
        self.lineinfo = bool(lineinfo)
        self.cc = None if cc is None else tuple(cc)
        self._inputs = []
        self.error_log = ""
        self.info_log = ""  # ember keeps only the error log

    def _cc(self):
        if self.cc is not None:
            return self.cc
        from ._devices import get_current_device
        from ..errors import CudaSupportError
        dev = get_current_device()
        if dev.kind != "cuda":
            raise CudaSupportError("Linker: compiling CUDA C/C++ needs a compute capability: "
                                   "give Linker.new(cc=(major, minor)) or select a CUDA device")
        return tuple(dev.compute_capability)

    def add_ptx(self, ptx, name="<cudapy-ptx>"):
        data = ptx.encode() if isinstance(ptx, str) else bytes(ptx)
        self._inputs.append((_LINK_KIND["ptx"], data, name))

    def add_cu(self, cu, name):
        from .. import _ember
        src = cu.decode() if isinstance(cu, (bytes, bytearray)) else cu
        inc = os.environ.get("NUMBA_CUDA_INCLUDE_PATH") or "/usr/local/cuda/include"
        try:
            ptx, log = _ember.nvrtc_compile(src, name, self._cc(),
                                            inc if os.path.isdir(inc) else None)
        except ValueError as exc:
            raise NvrtcError(str(exc)) from None
        if log.strip():
            import warnings
            warnings.warn(f"NVRTC log messages whilst compiling {name}:\n\n{log}")
        self.add_ptx(ptx, name + ".ptx")

    def add_file(self, path, kind):
        if not os.path.isfile(path):
            raise LinkerError(f"{path} not found")
        if kind not in _LINK_KIND.values():
            raise LinkerError(f"Linker.add_file: kind {kind!r} is not a CUjitInputType "
                              "ember links (0 cubin, 1 PTX, 2 fatbin, 3 object, 4 library; 5 LTO-IR)")
        self._inputs.append((kind, None, os.path.abspath(path)))

    def add_cu_file(self, path):
        with open(path, encoding="utf-8", errors="replace") as f:
            self.add_cu(f.read(), os.path.basename(path))

    def add_file_guess_ext(self, path):
        ext = os.path.basename(path).rsplit(".", 1)[1] if "." in os.path.basename(path) else ""
        if not ext:
            raise RuntimeError("Don't know how to link file with no extension")
        if ext == "cu":
            self.add_cu_file(path)
        elif ext in _LINK_KIND or ext == "lib":
            self.add_file(path, _LINK_KIND.get(ext, _LINK_KIND["a"]))
        else:
            raise RuntimeError(f"Don't know how to link file with extension .{ext}")

    def complete(self):
        """The linked image (bytes), on the current CUDA device."""
        from .. import _ember
        from ._devices import get_current_device
        from ..errors import CudaAPIError, CudaSupportError
        dev = get_current_device()
        if dev.kind != "cuda":
            raise CudaSupportError("Linker.complete() needs a CUDA device (the current device "
                                   "is the cpu device)")
        try:
            return _ember.link_image(dev.id, list(self._inputs))
        except CudaAPIError as exc:
            self.error_log = str(exc)
            raise LinkerError(self.error_log) from None
