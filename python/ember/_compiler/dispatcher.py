"""``cuda.jit`` and the Dispatcher: specialise, compile, launch.

A Dispatcher wraps a Python kernel. ``k[grid, block](*args)`` checks the
launch configuration (before anything runs), computes the argument type
signature with numba's rules, compiles one specialisation per signature
(lazily) and launches it on the current device: on the cpu device the
host-compiled kernel, on a CUDA device the kernel compiled
for its compute capability (NVVM → PTX, cached per signature and cc in
``_cuda_overloads``), loaded once per device; ``overloads`` shows both. Repeated launches with the
same argument types go from C straight to the kernel (python/ext/launch.c).

On a CUDA device, host NumPy arrays are copied to the device before the
launch and copied back after it only when the kernel writes them (the
compiler reports which parameters are written); numba copies every one
back. On the CPU device they are used in place, with the copying launch's
result (cuda/_inplace.py says when an array is still copied). Non-writeable
NumPy arrays are typed read-only, so a store into one is a compile error.
Objects with ``__cuda_array_interface__`` are used in place.
"""

import enum
import inspect
import numbers
import operator
import os
import threading
import weakref

import numpy as np

from .. import _ember
from ..errors import TypingError, UnsupportedError
from . import _enums
from . import _time
from . import cache as disk_cache
from . import frontend

__all__ = ["jit", "Dispatcher", "compile_ptx", "compile_ptx_for_current_device"]

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2**31 - 1, 65535, 65535)


# ---------------------------------------------------------------------------
# Argument types (numba's typeof rules)
# ---------------------------------------------------------------------------

def _layout(c_contig, f_contig):
    return "C" if c_contig else ("F" if f_contig else "A")


def _record_desc(dt, what):
    """('record', ((name, scalar, offset, [extents]) ...), itemsize, alignment):
    a NumPy structured dtype whose fields are numbers or nested arrays of them."""
    fields = []
    for name in dt.names:
        fdt, off = dt.fields[name][:2]
        base, shape = (fdt.subdtype if fdt.subdtype else (fdt, ()))
        if fdt.kind in "US" and fdt.itemsize > 0 and fdt.isnative:
            fields.append((name,) + _chars_field(fdt, off))
            continue
        if base.fields is not None or base.kind not in "biufc" or len(shape) > 4:
            raise TypeError(f"{what}: the record field '{name}' ({fdt}) is not supported "
                            "(numbers, arrays of up to 4 dimensions of numbers, and "
                            "native strings (U, S) are)")
        fields.append((name, _dtype_name(base, what), off, tuple(shape)))
    if not fields:
        raise TypeError(f"{what}: a record dtype without fields cannot be passed to a kernel")
    # the alignment the layout allows (not the dtype's flag, which np.recarray
    # drops): the largest field alignment that every offset and the size keep
    align = 1
    for a in sorted({_field_align(t) for _, t, _, _ in fields}, reverse=True):
        if dt.itemsize % a == 0 and all(off % min(_field_align(t), a) == 0
                                        for _, t, off, _ in fields):
            align = a
            break
    return ("record", tuple(fields), dt.itemsize, align)


# NumPy strings (dtype U: UCS4 code units, S: bytes), as record fields and
# as array items: a string is a 1-D array of its code units, "unichr" (uint32)
# or "char" (uint8) in the descriptor, numba's names; an item of a string
# array is a record of one such field named "" (core/ir.h ty_is_chars_item).
# Kernels can only store constant strings into them (core/infer.c chars_store).
def _chars_field(dt, off):
    """(scalar, offset, extents) of a string field of dtype dt."""
    unit = "unichr" if dt.kind == "U" else "char"
    return (unit, off, (dt.itemsize // (4 if dt.kind == "U" else 1),))


def _field_align(t):
    return {"unichr": 4, "char": 1}.get(t) or np.dtype(t).alignment


def _chars_desc(dt, what):
    """The record descriptor of an item of a string array."""
    if dt.itemsize == 0 or not dt.isnative:
        raise TypeError(f"{what}: arrays of dtype {dt.str} cannot be passed to a kernel "
                        "(strings need a length and the machine's byte order)")
    return ("record", (("",) + _chars_field(dt, 0),), dt.itemsize, dt.alignment)


def _dtype_name(dt, what):
    if dt.fields is not None:
        return _record_desc(dt, what)
    if dt.kind in "mM":  # datetime64 / timedelta64: int64 counts (_time.py)
        return _time.time_desc(dt, what)
    if dt.kind in "US":
        return _chars_desc(dt, what)
    if dt.kind == "b":
        return "bool"
    if dt.kind in "iuc" or (dt.kind == "f" and dt.itemsize in (2, 4, 8)):
        if not dt.isnative:
            raise TypeError(f"{what}: dtype {dt.str} is not in the machine's byte order")
        return dt.name
    raise TypeError(f"{what}: arrays of dtype {dt} cannot be passed to a kernel "
                    "(bool, integer, float16/32/64 and complex only)")


def typeof(value, what):
    """The type descriptor of an argument value (see frontend / compile.c)."""
    from ..cuda._devicearray import DeviceNDArray
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, enum.Enum):
        # an int64 that knows its class: `is` compares classes (_enums.py)
        return ("enum", type(value), "int64")
    if isinstance(value, int):
        # numba's typeof: int64, or uint64 for 2**63 .. 2**64 - 1 (a larger
        # value stays int64 and the packer raises OverflowError for it)
        return "uint64" if (1 << 63) <= value < (1 << 64) else "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    if isinstance(value, (np.datetime64, np.timedelta64)):  # before np.number (NumPy 1)
        return _time.time_desc(value.dtype, what)
    if isinstance(value, np.generic):
        if isinstance(value, np.number):
            return _dtype_name(value.dtype, what)
        if isinstance(value, np.void) and value.dtype.fields is not None:
            return _record_desc(value.dtype, what)  # a record, passed by reference
    if isinstance(value, DeviceNDArray):
        if value.ndim == 0 and value.dtype.fields is not None:
            return _record_desc(value.dtype, what)  # a DeviceRecord, by reference
        if value.ndim == 0:
            raise TypeError(f"{what}: 0-d arrays cannot be passed to a kernel; pass the "
                            "scalar instead")
        return ("array", _dtype_name(value.dtype, what), value.ndim,
                _layout(value.is_c_contiguous(), value.is_f_contiguous()), False)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise TypeError(f"{what}: 0-d arrays cannot be passed to a kernel; pass the "
                            "scalar instead (a[()])")
        f = value.flags
        # to_device makes a non-contiguous host array C-contiguous on the device
        layout = "F" if f["F_CONTIGUOUS"] and not f["C_CONTIGUOUS"] else "C"
        if value.dtype.fields is not None or value.dtype.kind in "US":
            layout = "C"  # records travel as bytes: in place when C, else a C copy
        return ("array", _dtype_name(value.dtype, what), value.ndim, layout,
                not f["WRITEABLE"])
    if isinstance(value, tuple):
        items = tuple(typeof(v, f"{what}[{i}]") for i, v in enumerate(value))
        # inside a tuple an IntEnum member is its int, as before classes
        # were typed (no other Enum member travels there)
        items = tuple(d[2] if isinstance(d, tuple) and d[0] == "enum" and issubclass(d[1], int)
                      else d for d in items)
        for i, d in enumerate(items):
            if isinstance(d, tuple) and d[0] == "enum":
                raise TypeError(f"{what}[{i}]: a kernel cannot take a {d[1].__name__} inside "
                                "a tuple; pass the member as an argument of its own")
            if isinstance(d, tuple) and d[0] == "function":
                raise TypeError(f"{what}[{i}]: a function inside a tuple cannot be passed; "
                                "pass the function as an argument of its own")
        fields = _namedtuple_fields(value)
        # a namedtuple's field names are part of its type (p.x reads a field);
        # _desc_for_c gives the C side the plain tuple
        return ("tuple", items, fields) if fields else ("tuple", items)
    df = function_argument(value)
    if df is not None:
        return ("function", df)
    raise TypeError(f"{what}: a kernel cannot take a {type(value).__name__}; pass numbers, "
                    "tuples, NumPy arrays or device arrays")


def function_argument(value):
    """The DeviceFunction a device function or @ember.jit function passed as
    an argument stands for, else None. Its type is ("function", that
    DeviceFunction): a compile-time constant, as numba types a dispatcher
    argument, so each function passed gets its own specialisation, whose
    parameter is bound to it (frontend: static_params) and carries no data
    (an empty tuple for compile.c, see _desc_for_c and function_values)."""
    if isinstance(value, DeviceFunction):
        return value
    from .._jit import JitDispatcher
    if isinstance(value, JitDispatcher):
        return value._as_device_function()
    return None


def function_values(args, sig):
    """`args` with each function argument (typed ("function", f)) replaced by
    the empty tuple compile.c packs for it."""
    if not any(isinstance(d, tuple) and d[0] == "function" for d in sig):
        return args
    return tuple(() if isinstance(d, tuple) and d[0] == "function" else a
                 for a, d in zip(args, sig))


def _namedtuple_fields(value):
    """A namedtuple's field names (a tuple of str), else None."""
    fields = getattr(type(value), "_fields", None)
    if isinstance(fields, tuple) and len(fields) == len(value) and \
            all(isinstance(f, str) for f in fields):
        return fields
    return None


def _has_namedtuple(values):
    return any(isinstance(v, tuple) and (_namedtuple_fields(v) or _has_namedtuple(v))
               for v in values)


def _desc_for_c(d):
    """The descriptor as compile.c wants it (lists for tuple fields and
    extents; a record argument is a 1-element array of records there; an
    enum member is its int64 code)."""
    if isinstance(d, tuple) and d[0] == "enum":
        return d[2]
    if isinstance(d, tuple) and d[0] == "tuple":
        return ("tuple", [_desc_for_c(x) for x in d[1]])
    if isinstance(d, tuple) and d[0] == "function":  # bound at compile time: no data
        return ("tuple", [])
    if isinstance(d, tuple) and d[0] == "record":
        return ("array", _record_for_c(d), 1, "C", False)
    if isinstance(d, tuple) and d[0] == "array" and isinstance(d[1], tuple):
        return ("array", _record_for_c(d[1])) + d[2:]
    return d


def _record_for_c(r):
    return ("record", [(n, t, off, list(shape)) for n, t, off, shape in r[1]], r[2], r[3])


def _has_records(d):
    return isinstance(d, tuple) and (d[0] == "record" or (d[0] == "array" and
                                                         isinstance(d[1], tuple)) or
                                     (d[0] == "tuple" and any(_has_records(x) for x in d[1])))


def _record_view(r):
    """A record scalar as a 1-element array over the same memory: a record
    taken from an array (``a[0]``) is a view, and the kernel's writes must
    reach it (numba passes records by reference)."""
    base = r.base
    if isinstance(base, np.ndarray) and base.flags.writeable:
        start = base.__array_interface__["data"][0]
        addr = r.__array_interface__["data"][0]
        raw = np.ndarray((base.nbytes,), np.uint8, buffer=base) if base.flags.c_contiguous \
            else None
        if raw is not None and 0 <= addr - start <= base.nbytes - r.dtype.itemsize:
            off = addr - start
            return raw[off:off + r.dtype.itemsize].view(r.dtype)
    return np.array([r], dtype=r.dtype)  # a copy: writes do not come back


def _record_bytes(a):
    """A structured array, or a record scalar (np.void) as a 1-element array,
    as its bytes: uint8 with one more dimension (compile.c record_bytes_fit).
    Device arrays of records go as they are; a DeviceRecord as a 1-element
    view of itself."""
    from ..cuda._devicearray import DeviceNDArray
    if isinstance(a, DeviceNDArray):
        if a.ndim == 0 and a.dtype.fields is not None:
            return a._make_view(0, (1,), (a.itemsize,), None, DeviceNDArray)
        return a
    if isinstance(a, np.void):
        a = _record_view(a)
    if isinstance(a, np.ndarray) and (a.dtype.fields is not None or a.dtype.kind in "US"):
        return a[..., np.newaxis].view(np.uint8)  # same memory, any strides
    if isinstance(a, tuple):
        return tuple(_record_bytes(x) for x in a)
    return a


def _desc_str(d):
    if isinstance(d, str):
        return d
    if d[0] == "enum":  # numba's IntEnumMember / EnumMember
        kind = "IntEnumMember" if issubclass(d[1], int) else "EnumMember"
        return f"{kind}({d[1].__qualname__}, {d[2]})"
    if d[0] == "function":
        return f"function({d[1].__qualname__})"
    if d[0] == "record" and len(d[1]) == 1 and d[1][0][0] == "":  # a string item
        return f"[{d[1][0][1]} x {d[1][0][3][0]}]"
    if d[0] == "record":
        return "Record(" + ", ".join(f"{n}: {t}{list(s) if s else ''}"
                                     for n, t, _, s in d[1]) + f"; {d[2]} bytes)"
    if d[0] == "array":
        _, dt, ndim, layout, ro = d
        dt = _desc_str(dt)
        dims = ", ".join("::1" if (layout == "C" and i == ndim - 1) or
                         (layout == "F" and i == 0) else ":" for i in range(ndim))
        return ("readonly " if ro else "") + f"{dt}[{dims}]"
    inner = ", ".join(_desc_str(x) for x in d[1])
    if len(d) > 2:  # a namedtuple
        inner = ", ".join(f"{n}={_desc_str(x)}" for n, x in zip(d[2], d[1]))
    return f"({inner},)" if len(d[1]) == 1 else f"({inner})"


_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _match_cost(actual, formal):
    """How many conversions make argument types ``actual`` fit the compiled
    parameter types ``formal``; None when they cannot."""
    if len(actual) != len(formal):
        return None
    cost = 0
    for a, f in zip(actual, formal):
        c = _arg_cost(a, f)
        if c is None:
            return None
        cost += c
    return cost


def _arg_cost(a, f):
    if a == f:
        return 0
    if isinstance(a, tuple) and a[0] == "enum":  # a member passes as its int64
        c = _arg_cost(a[2], f)
        return None if c is None else c + 1
    if isinstance(a, str) and isinstance(f, str):
        if a == "none" or f == "none" or _time.is_time_desc(a) or _time.is_time_desc(f):
            return None  # (equal types matched above)
        ka, kf = np.dtype(a).kind, np.dtype(f).kind
        if f == "bool" and a != "bool":
            return None
        return 1 if _KIND_RANK[ka] <= _KIND_RANK[kf] else None
    if isinstance(a, tuple) and isinstance(f, tuple) and a[0] == f[0] == "array":
        _, dta, nda, la, roa = a
        _, dtf, ndf, lf, rof = f
        if dta != dtf or nda != ndf or (roa and not rof) or (la != lf and lf != "A"):
            return None
        return 1
    if isinstance(a, tuple) and isinstance(f, tuple) and a[0] == f[0] == "tuple":
        return _match_cost(a[1], f[1])
    return None


# ---------------------------------------------------------------------------
# Launch configuration
# ---------------------------------------------------------------------------

def _dims(value, what, limits):
    """griddim / blockdim as 3 ints; numba's errors (normalize_kernel_dimensions):
    more than 3 items is a ValueError, an item that is no integer a TypeError."""
    if value is None:
        raise ValueError(_MISSING_CONFIG)
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    if len(items) > 3:  # () is (1, 1, 1), as in numba
        raise ValueError(f"{what} must be a sequence of 1, 2 or 3 integers, got {items!r}")
    for v in items:  # bools are refused (numba takes True as 1)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{what} must be a sequence of integers, got {items!r}")
    dims = [int(v) for v in items]
    for axis, (d, lim) in enumerate(zip(dims, limits)):
        if d <= 0:
            raise ValueError(f"{what} {value!r}: dimension {'xyz'[axis]} is {d}; it must be "
                             "at least 1")
        if d > lim:
            raise ValueError(f"{what} {value!r}: dimension {'xyz'[axis]} is {d}, more than the "
                             f"maximum {lim}")
    while len(dims) < 3:
        dims.append(1)
    return tuple(dims)


# numba's wording (numba/cuda/errors.py missing_launch_config_msg)
_MISSING_CONFIG = ("Kernel launch configuration was not specified. Use the syntax:\n\n"
                   "kernel_function[blockspergrid, threadsperblock](arg0, arg1, ..., argn)")


def _configure(config):
    if not isinstance(config, tuple):
        raise ValueError(f"launch configuration must be [griddim, blockdim] (optionally "
                         f"with stream and sharedmem), not [{config!r}]")
    if not 2 <= len(config) <= 4:
        raise ValueError(f"launch configuration must have 2 to 4 items "
                         f"(griddim, blockdim, stream, sharedmem), not {len(config)}: {config!r}")
    grid = _dims(config[0], "griddim", MAX_GRID)
    block = _dims(config[1], "blockdim", MAX_BLOCK)
    nthreads = block[0] * block[1] * block[2]
    if nthreads > MAX_THREADS_PER_BLOCK:
        raise ValueError(f"blockdim {config[1]!r} has {nthreads} threads per block, more than "
                         f"the maximum {MAX_THREADS_PER_BLOCK}")
    stream = config[2] if len(config) > 2 else 0
    sharedmem = config[3] if len(config) > 3 else 0
    if isinstance(sharedmem, bool) or not isinstance(sharedmem, (int, np.integer)) or \
            sharedmem < 0:
        raise ValueError(f"sharedmem must be an int >= 0, not {sharedmem!r}")
    from ..cuda._streams import Stream, stream_of_protocol
    if hasattr(stream, "__cuda_stream__") and not isinstance(stream, Stream):
        stream = stream_of_protocol(stream, "launch")  # CuPy's, PyTorch's, cuda.core's
    if not (stream is None or isinstance(stream, Stream) or
            (isinstance(stream, int) and not isinstance(stream, bool) and stream == 0)):
        raise ValueError(f"stream must be a Stream from cuda.stream(), 0, or an object with "
                         f"__cuda_stream__, not {stream!r}")
    return grid, block, stream, int(sharedmem)


# ---------------------------------------------------------------------------
# The dispatcher
# ---------------------------------------------------------------------------

def resolve_signature(sig, overloads, explicit, what, qualname):
    """The compiled signature a call with argument types `sig` uses: itself
    without explicit signatures, else the explicit one needing the fewest
    conversions (numba's rule); none is a TypeError naming the `what`
    ("kernel") `qualname` and its signatures."""
    if not explicit or sig in overloads:
        return sig
    best = None
    for key in explicit:
        cost = _match_cost(sig, key)
        if cost is not None and (best is None or cost < best[0]):
            best = (cost, key)
    if best is None:
        types = ", ".join(_desc_str(d) for d in sig)
        have = "\n".join("    (" + ", ".join(_desc_str(d) for d in key) + ")"
                         for key in explicit)
        raise TypeError(f"No matching definition for argument type(s) {types} "
                        f"({what} {qualname}); its signatures are:\n{have}")
    return best[1]


def adopt_function(obj, py_func, decorator):
    """obj (a dispatcher) stands for py_func: its name, qualname, doc, module
    and __wrapped__; anything but a Python function is a TypeError naming
    the `decorator`."""
    if not inspect.isfunction(py_func):
        raise TypeError(f"{decorator}: expected a Python function, not "
                        f"{type(py_func).__name__}")
    obj.py_func = py_func
    obj.__name__ = py_func.__name__
    obj.__qualname__ = py_func.__qualname__
    obj.__doc__ = py_func.__doc__
    obj.__module__ = py_func.__module__
    obj.__wrapped__ = py_func


def boundscheck_option(boundscheck, debug):
    """Whether to check bounds: boundscheck=True, or by default debug=True or
    EMBER_BOUNDSCHECK / NUMBA_BOUNDSCHECK=1 in the environment (numba's
    switch), read when the function is decorated."""
    if boundscheck is None:
        env = os.environ.get("EMBER_BOUNDSCHECK", os.environ.get("NUMBA_BOUNDSCHECK", ""))
        boundscheck = bool(debug) or env.strip() not in ("", "0")
    return bool(boundscheck)


# Owners of a compile lock (``_lock``): a forked child may inherit one held
# by a thread that was compiling when the parent forked and does not exist
# there, so the child gives each owner a new lock (the C side makes the
# compile itself safe: core/fork.c).
_lock_owners = weakref.WeakSet()


def compile_lock(owner):
    """A new RLock for `owner`'s compiles, replaced in a forked child."""
    _lock_owners.add(owner)
    return threading.RLock()


def _new_locks_after_fork():
    for owner in list(_lock_owners):
        owner._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)


def cached_compile(cache, lock, key, compile_it):
    """cache[key], compiled by compile_it() on the first request: the lookup
    needs no lock, the compile happens once under `lock` (an RLock: a
    compile may request another signature)."""
    k = cache.get(key)
    if k is None:
        with lock:
            k = cache.get(key)
            if k is None:
                k = cache[key] = compile_it()
    return k


class DeviceFunction:
    """``@cuda.jit(device=True)``: a function that kernels and other device
    functions call. It is compiled inline into each kernel that calls it,
    specialised on the argument types at each call (numba semantics); it
    cannot be called from the host."""

    def __init__(self, py_func, signature=None):
        self.py_func = py_func
        self.signatures = [] if signature is None else \
            (signature if isinstance(signature, list) else [signature])
        self.__name__ = getattr(py_func, "__name__", "device_function")
        self.__qualname__ = getattr(py_func, "__qualname__", self.__name__)
        self.__doc__ = getattr(py_func, "__doc__", None)
        self.__module__ = getattr(py_func, "__module__", None)
        self.__wrapped__ = py_func

    def __repr__(self):
        return f"<ember device function {self.__qualname__}>"

    def _pickle_recipe(self):
        from .._pickle import Recipe
        r = self.__dict__.get("_recipe")
        if r is None:
            r = self._recipe = Recipe("device", self.py_func, {})
        r.extra = list(self.signatures) or None
        return r

    def __reduce__(self):  # python/ember/_pickle.py
        from .._pickle import reduce_function
        return reduce_function(self, self._pickle_recipe())

    def __call__(self, *args, **kwargs):
        raise TypeError("device functions can only be called from kernels or other device "
                        f"functions (called '{self.__qualname__}' from the host)")


class InspectCompiled:
    """``inspect_llvm`` and ``inspect_ir`` of a dispatcher (cuda.jit kernels,
    ember.jit functions): it has ``compile(signature)`` and ``overloads``
    (signature -> compiled Kernel)."""

    def inspect_llvm(self, signature=None):
        """LLVM IR text (after optimisation): of one signature, or a dict
        signature -> text for every compiled one."""
        if signature is not None:
            return self.compile(signature).llvm_ir
        return {sig: k.llvm_ir for sig, k in self.overloads.items()}

    def inspect_ir(self, signature=None):
        """ember's typed IR as text: of one signature, or a dict."""
        if signature is not None:
            return self.compile(signature).ir
        return {sig: k.ir for sig, k in self.overloads.items()}


class Dispatcher(InspectCompiled, _ember.DispatcherBase):
    """A kernel compiled on demand, one specialisation per argument types.

    ``self[config]`` and the launch run in C (python/ext/launch.c) when they
    can: the configuration of ints and tuples is parsed there, and a launch
    whose argument types were seen before (device arrays and scalars only)
    goes straight to the compiled kernel. Everything else comes here:
    ``_configure_launch`` and ``_launch``."""

    def __init__(self, py_func, debug=False, fastmath=False, opt=True, lineinfo=False,
                 boundscheck=None, cache=False, extensions=(), link=(), **options):
        adopt_function(self, py_func, "cuda.jit")
        from ..cuda import _foreign
        self.link = _foreign.check_link(link, f"cuda.jit({self.__qualname__})")
        self._links = {}            # id(Kernel) -> files linked with it on a GPU
        self.extensions = _Extensions(self, extensions)
        self._cache = bool(cache)   # the disk cache (_compiler/cache.py)
        self.stats = disk_cache.CacheStats()
        self.debug, self.fastmath, self.opt, self.lineinfo = debug, fastmath, opt, lineinfo
        self.boundscheck = boundscheck_option(boundscheck, debug)
        self.targetoptions = options
        self._cpu_overloads = {}    # signature -> Kernel compiled for the cpu device
        self._cuda_overloads = {}   # (signature, cc, lineinfo) -> Kernel compiled for CUDA
        self._cuda_modules = {}     # (id(kernel), device id) -> (kernel, Module, its kernel)
        self._lock = compile_lock(self)
        self._pysig = inspect.signature(py_func)
        self._eager = []        # descriptors of the explicit signatures, in order
        self.specializations = {}   # argument descriptors -> Dispatcher (specialize)
        self._options = dict(debug=debug, fastmath=fastmath, opt=opt, lineinfo=lineinfo,
                             boundscheck=boundscheck, cache=cache, link=self.link,
                             **options)

    def __repr__(self):
        return f"<ember.cuda.Dispatcher {self.__qualname__}>"

    def _pickle_recipe(self):
        """What makes this kernel again in another process: its function,
        options and eager signatures (python/ember/_pickle.py)."""
        from .._pickle import Recipe
        r = self.__dict__.get("_recipe")
        if r is None:
            r = self._recipe = Recipe("cuda.jit", self.py_func, {})
        r.options = dict(debug=self.debug, fastmath=self.fastmath, opt=self.opt,
                         lineinfo=self.lineinfo, boundscheck=self.boundscheck,
                         cache=self._cache, **self.targetoptions)
        if self.extensions:
            r.options["extensions"] = list(self.extensions)
        if self.link:
            r.options["link"] = list(self.link)
        r.extra = list(self._eager)
        return r

    def __reduce__(self):
        from .._pickle import reduce_function
        return reduce_function(self, self._pickle_recipe())

    @property
    def signatures(self):
        return list(self.overloads)

    @property
    def overloads(self):
        """signature -> compiled Kernel: the cpu device's, and those
        compiled for a CUDA device (numba's view: one entry per signature)."""
        merged = _Overloads(self)
        merged.update({key[0]: k for key, k in self._cuda_overloads.items()})
        merged.update(self._cpu_overloads)
        return merged

    @property
    def opt_level(self):
        return 3 if self.opt and not self.debug else 0

    # -- configuration --

    # self[config] is DispatcherBase's; it calls this for what it does not parse
    def _configure_launch(self, config):
        return _ember.Launcher(self, *_configure(config))

    def forall(self, ntasks, tpb=0, stream=0, sharedmem=0):
        """A launcher for ``ntasks`` threads in 1-D (as numba's forall).
        With tpb 0, the block size is the one the driver's occupancy
        calculator picks for the kernel on a CUDA device (at the call, once
        the argument types are known), and min(ntasks, 128) on the CPU.
        With ntasks 0 the launcher does nothing (as numba's: no kernel with
        no blocks is launched); a negative count is numba's ValueError."""
        ntasks = operator.index(ntasks)
        if ntasks < 0:
            raise ValueError(f"Can't create ForAll with negative task count: {ntasks}")
        tpb = operator.index(tpb)
        if tpb < 0:
            raise ValueError(f"forall: tpb must be >= 0, not {tpb}")
        if ntasks == 0:
            return _NoWorkForAll()
        from ..cuda._devices import get_current_device
        if tpb == 0 and get_current_device().kind == "cuda":
            return _OccupancyForAll(self, ntasks, stream, sharedmem)
        tpb = tpb or min(ntasks, 128)
        return self[(ntasks + tpb - 1) // tpb, tpb, stream, sharedmem]

    def _occupancy_block(self, args, sharedmem):
        """The block size of best occupancy for a launch with `args` on the
        current CUDA device."""
        from ..cuda._devices import get_current_device
        dev = get_current_device()
        args = tuple(_foreign_arrays_to_device(a) for a in self._bind(args))
        kernel = self.compile_cuda(self._resolve_key(self._signature(args)),
                                   tuple(dev.compute_capability))
        _, function = self._cuda_function(kernel, dev)
        block, _ = function.max_block_size(shared=sharedmem)
        return block

    def _cuda_function(self, kernel, dev):
        """(Module, ModuleKernel) of `kernel` loaded on CUDA device `dev`:
        the PTX is JIT-compiled by the driver once per device."""
        key = (id(kernel), dev.id)
        entry = self._cuda_modules.get(key)
        if entry is None:
            from ..cuda import _foreign
            files, names = self._links.get(id(kernel), (None, self.link, []))[1:]
            module = _foreign.load_module(dev, kernel.ptx, files, names, self.__qualname__)
            entry = (kernel, module, module.get_kernel(kernel.symbol))
            self._cuda_modules[key] = entry
        return entry[1], entry[2]

    def bind(self):
        """numba's ``Dispatcher.bind``: every compiled specialisation is
        loaded onto the current device now, not at its first launch (on a
        GPU its PTX becomes a module there; the CPU device's code is loaded
        when it is compiled, so there is nothing left to do)."""
        from ..cuda._devices import get_current_device
        dev = get_current_device()
        if dev.kind != "cuda":
            return
        for sig in list(self.overloads):
            self._cuda_function(self.compile_cuda(sig, tuple(dev.compute_capability)), dev)

    def _launch_cuda(self, dev, kernel, grid, block, stream, sharedmem, launch_args):
        """Launches `kernel` (compiled for dev's compute capability) on CUDA
        device `dev`: its PTX is loaded once per device (the driver JITs it), the
        arguments packed into the kernel's 8-byte parameter slots. A kernel that
        can report faults (bounds checks, recursion depth) is waited for and its
        fault record read, so that the fault is raised here."""
        module, function = self._cuda_function(kernel, dev)
        lowlevel = None if stream is None or isinstance(stream, int) else stream._s
        buf = kernel.pack(tuple(launch_args), "cuda", dev.id, lowlevel)
        if not kernel.may_fault:
            function.launch(grid, block, buf, shared=sharedmem, stream=lowlevel)
            return function
        function.launch(grid, block, buf, shared=sharedmem, stream=lowlevel)
        if kernel.may_fault:
            if lowlevel is None:
                from ..cuda._devices import synchronize
                synchronize()
            else:
                stream.synchronize()
            fault, site, thread, block = module.take_fault_where()
            if fault == 2:
                raise IndexError(f"kernel {self.__qualname__}: {kernel.fault_site(site)}: index out "
                                 f"of bounds in thread {thread} of block {block} (bounds "
                                 "checking is on; the out-of-bounds accesses read 0 and wrote "
                                 "nowhere)")
            if fault == 14:  # KERNEL_FAULT_RAISE: a raise or a failed assert (_raises.py)
                from . import _raises
                raise _raises.kernel_exception(kernel.fault_site(site), kernel.name, True,
                                               tuple(thread), tuple(block))
            if fault == 1:
                raise RuntimeError(f"kernel {self.__qualname__}: a recursive device function went "
                                   "deeper than 1000 calls; the threads that did so stopped early "
                                   "and their results are incomplete")
        return function

    def __call__(self, *args, **kwargs):
        raise ValueError(_MISSING_CONFIG.replace("kernel_function", self.__name__) +
                         f"\n\n(calling kernel {self.__qualname__} without one)")

    # -- specialisation --

    def _signature(self, args):
        names = list(self._pysig.parameters)
        sig = []
        for i, a in enumerate(args):
            pname = names[i] if i < len(names) else "?"
            sig.append(typeof(a, f"{self.__name__}: argument {i + 1} ('{pname}')"))
        return tuple(sig)

    def _bind(self, args):
        try:
            bound = self._pysig.bind(*args)
        except TypeError as exc:
            raise TypeError(f"{self.__qualname__}: {exc}") from None
        bound.apply_defaults()
        return bound.args

    def specialize(self, *args):
        """numba's ``Dispatcher.specialize``: a dispatcher compiled for the
        types of `args` (values, or types such as ``float32[::1]``) and only
        those; the same one for the same types."""
        from .. import types as ty
        if self._eager:
            raise RuntimeError("Dispatcher already specialized")
        sig = tuple(a.descriptor() if isinstance(a, ty.Type) else
                    typeof(a, f"{self.__name__}.specialize: argument {i + 1}")
                    for i, a in enumerate(args))
        d = self.specializations.get(sig)
        if d is None:
            d = Dispatcher(self.py_func, **self._options)
            d._add_eager(sig)
            self.specializations[sig] = d
        return d

    def compile(self, sig):
        """The compiled kernel for a signature: a tuple of type descriptors, a
        signature string (``"void(float32[::1], float32)"``), a Signature
        (``void(float32[::1], float32)``) or a tuple of ember types."""
        sig = self._sig_key(sig)
        return cached_compile(self._cpu_overloads, self._lock, sig, lambda: self._compile(sig))

    def _sig_key(self, sig):
        from .. import types as ty
        if isinstance(sig, (str, ty.Signature)):
            sig = ty.as_signature(sig)
            ret = sig.return_type
            if ret is not None and not isinstance(ret, ty.NoneType):
                raise TypingError(f"{self.__qualname__}: kernels return nothing, but the "
                                  f"signature {sig} has return type {ret}; write "
                                  f"void({', '.join(str(a) for a in sig.args)})")
            return sig.descriptors()
        return tuple(a.descriptor() if isinstance(a, ty.Type) else a for a in sig)

    def _add_eager(self, sig):
        """Compile an explicit signature now (``@cuda.jit(sig)``)."""
        key = self._sig_key(sig)
        self.compile(key)
        if key not in self._eager:
            self._eager.append(key)
            self._fastpath_clear()  # keys may now resolve to another kernel

    def _resolve(self, sig):
        """The kernel for the argument types of a call. With explicit signatures
        only those are used (numba's rule): an exact match, else the one needing
        the fewest conversions (a C or F array matches an 'A' parameter, a
        writeable array a read-only one, a number a wider kind); no match is a
        TypeError."""
        return self.compile(self._resolve_key(sig))

    def _resolve_key(self, sig):
        """The signature to compile for a call's argument types (see _resolve)."""
        return resolve_signature(sig, self.overloads, self._eager, "kernel", self.__qualname__)

    def _compile(self, sig, cc=None, lineinfo=None):
        """The Kernel for `sig`: for the cpu device, or for CUDA compute
        capability `cc` (NVVM IR and PTX; `lineinfo` overrides the
        dispatcher's option)."""
        tree, info = frontend.build_tree(self.py_func, True, sig)
        from ..cuda import _foreign
        link_error = None
        if cc is None:  # the cpu device: the C implementations' addresses go in the tree
            tree, link_error = _foreign.resolve_cpu(tree, info.foreign, self.link)
        try:
            k = disk_cache.compile_kernel(
                tree, [_desc_for_c(d) for d in sig], self.opt_level, self.boundscheck,
                bool(self.fastmath), target=None if cc is None else "cuda", cc=cc,
                lineinfo=bool(self.lineinfo if lineinfo is None else lineinfo),
                debug=bool(self.debug), cache=self._cache, py_func=self.py_func,
                stats=self.stats, signature=sig)
            if cc is not None:
                self._links[id(k)] = (k, _foreign.gpu_files(info.foreign, self.link),
                                      [d.name for d in info.foreign.values()])
            if link_error is not None:  # typed and compiled, but never to be run
                raise link_error
            return k
        except (TypingError, UnsupportedError) as exc:
            line = getattr(exc, "line", 0) or 0
            col = getattr(exc, "col", 0) or 0
            msg = getattr(exc, "msg", None) or str(exc)
            types = ", ".join(_desc_str(d) for d in sig)
            extra = f"(compiling {self.__qualname__} for argument types ({types}))"
            fname = getattr(exc, "filename", None) or info.filename
            if fname != info.filename:  # inside a device function of another file
                info = frontend.SourceInfo(fname, 1, [], 0)
            new = type(exc)(frontend.format_error(info, line, col, msg, extra=extra))
            new.filename, new.line, new.col, new.msg = info.filename, line, col, msg
            raise new from None

    def compile_cuda(self, sig, cc=(9, 0), lineinfo=None):
        """The kernel compiled for a CUDA GPU of compute capability `cc`
        (cached per signature, cc and lineinfo); works without a GPU.
        `lineinfo` overrides the dispatcher's option."""
        li = bool(self.lineinfo if lineinfo is None else lineinfo)
        key = (self._sig_key(sig), tuple(cc), li)
        return cached_compile(self._cuda_overloads, self._lock, key,
                              lambda: self._compile(key[0], key[1], li))

    def inspect_asm(self, signature=None, cc=None):
        """PTX: of one signature, or a dict signature -> PTX for every
        compiled one, for compute capability `cc` (default: the current
        CUDA device's, else (9, 0))."""
        cc = tuple(cc) if cc is not None else _default_cc()
        if signature is not None:
            return self.compile_cuda(signature, cc).ptx
        return {sig: self.compile_cuda(sig, cc).ptx for sig in list(self.overloads)}

    def inspect_types(self, signature=None, file=None):
        """Print the source annotated with the types of its variables and calls,
        for each compiled signature (or one), as numba's inspect_types."""
        from ._annotate import annotate
        import sys
        out = sys.stdout if file is None else file
        if signature is not None:
            key = self._sig_key(signature)
            items = [(key, self.compile(key))]
        else:
            items = list(self.overloads.items())
        for key, k in items:
            out.write(annotate(self.py_func, key, k.ir, _desc_str))

    # -- launch --

    def _launch(self, grid, block, stream, args, sharedmem=0):
        """The launch of everything the C fast path does not take (and of
        every launch on a CUDA device)."""
        if not self.extensions:
            return self._launch_args(grid, block, stream, args, sharedmem, len(args))
        # numba's kernel extensions: each rewrites every (type, value) pair;
        # what they queue in `retr` runs after the launch (write-backs)
        from .. import typeof
        from ..cuda._args import ArgHint
        retr, prepared = [], []
        for val in self._bind(args):
            try:
                ty = typeof(val.value if isinstance(val, ArgHint) else val)
            except (TypeError, ValueError):
                ty = None
            for ext in reversed(self.extensions):
                ty, val = ext.prepare_args(ty, val, stream=stream or 0, retr=retr)
            prepared.append(val)
        self._launch_args(grid, block, stream, tuple(prepared), sharedmem, -1)
        for writeback in retr:
            writeback()

    def _launch_args(self, grid, block, stream, args, sharedmem, given):
        """_launch's work; `given` is the number of arguments the caller
        gave, -1 when this launch must not feed the C fast path."""
        from ..cuda._devicearray import DeviceNDArray
        from ..cuda._devices import get_current_device
        from ..cuda._args import split_hints
        from ..cuda._memory import device_array_like, device_view_of_mapped, to_device
        args, hints = split_hints(tuple(self._bind(args)))
        args = tuple(_foreign_arrays_to_device(a) for a in args)
        dev = get_current_device()
        from ..cuda import _graphs
        capturing = _graphs.is_capturing(stream)
        if capturing and (hints or any(_has_host_array(a) for a in args)):
            raise TypeError(f"{self.__name__}: a launch captured into a graph takes device "
                            "arrays only (a host array would be copied in and back around "
                            "each launch, which a graph cannot hold); pass cuda.to_device(...)")
        sig = self._signature(args)
        args = function_values(args, sig)  # functions are compile-time constants
        if any(isinstance(d, tuple) and d[0] == "enum" for d in sig):
            # members become their codes; the C fast path would not tell an
            # IntEnum member from its int (nor two classes) and stays out
            args = tuple(_enums.as_argument(a) for a in args)
            given = -1
        if any(_has_records(d) for d in sig):  # records travel as their bytes
            args = tuple(_record_bytes(a) for a in args)
            given = -1  # and never through the C fast path (it would see uint8 arrays)
        if any(_time.has_time(d) for d in sig):  # datetimes travel as int64 counts
            args = tuple(_time.as_int64(a) for a in args)
            given = -1  # and never through the C fast path (it would see int64s)
        if dev.kind == "cuda":
            kernel = self.compile_cuda(self._resolve_key(sig), tuple(dev.compute_capability))
        else:
            kernel = self._resolve(sig)
        if capturing and (kernel.may_fault if dev.kind == "cuda" else self.boundscheck):
            # on a GPU the launch is waited for to read the fault record,
            # which a capture cannot do: refused on the cpu device too (there
            # with bounds checking; a raise or assert is reported by the
            # graph's launch)
            raise ValueError(f"{self.__name__}: a kernel that reports faults (bounds checking, "
                             "raise, assert, recursion) is waited for after its launch to read "
                             "them, which a graph capture cannot do; capture it without "
                             "boundscheck and raise/assert")
        # device copies of host arrays
        written = kernel.param_written
        copy_back = []

        def on_device(a, what, write):
            """`a` with host arrays (also inside tuples) copied to `dev`;
            those of a written parameter are queued for the copy back."""
            if isinstance(a, DeviceNDArray):
                if a.device != dev:
                    raise ValueError(f"{self.__name__}: {what} lives on {a.device}, "
                                     f"but the kernel runs on {dev}")
                return a
            if isinstance(a, np.ndarray):
                # mapped / managed memory: a GPU uses it directly (a strided
                # view is copied: the kernel was typed for the contiguous copy)
                d = device_view_of_mapped(a, dev) if dev.kind == "cuda" and (
                    a.flags.c_contiguous or a.flags.f_contiguous) else None
                if d is not None:
                    return d
                d = to_device(a)
                if write:
                    copy_back.append((d, a))
                return d
            if isinstance(a, tuple):
                return tuple(on_device(x, f"{what}[{k}]", write) for k, x in enumerate(a))
            return a

        for i, hint in hints.items():  # cuda.In / Out / InOut
            host = args[i]
            if dev.kind == "cpu" and hint.copy_out:
                continue  # in place, or copied in and back: the host sees the writes
            if hint.copy_in:
                d = to_device(host)
            else:
                d = device_array_like(host)
            if hint.copy_out:
                copy_back.append((d, host))
            args = args[:i] + (d,) + args[i + 1:]
        if hints:
            given = -1  # the fast path never sees the hints: do not register it
        if dev.kind == "cpu":  # host arrays in place where the result is the same
            from ..cuda._inplace import place_arguments
            launch_args = place_arguments(
                args, written, dev, lambda a, path, write: on_device(
                    a, f"argument {path[0] + 1}" + "".join(f"[{k}]" for k in path[1:]), write))
        else:
            launch_args = [on_device(a, f"argument {i + 1}", written[i])
                           for i, a in enumerate(args)]
        if dev.kind == "cuda":
            if capturing:
                _graphs.keep_alive(stream._s, kernel, tuple(launch_args))
            function = self._launch_cuda(dev, kernel, grid, block, stream, sharedmem,
                                         launch_args)
            for d, host in copy_back:
                d.copy_to_host(host)
            if len(args) == given and not kernel.may_fault and not _has_namedtuple(args) and \
                    (stream is None or isinstance(stream, int)):
                # later launches with these argument types go from C to the driver
                self._fastpath_register(args, (kernel, function))
            return
        if len(args) == given and not _has_namedtuple(args):
            # later calls with these argument types launch from C (when the
            # arguments are ones the fast path takes: no host arrays; the C
            # key of a namedtuple would not tell its field names)
            self._fastpath_register(args, kernel)
        if capturing:  # recorded on the stream, run by the graph's launches
            kernel.launch(grid, block, tuple(launch_args), sharedmem, stream._s)
            return
        if stream is not None and not isinstance(stream, int):
            stream.synchronize()
        kernel.launch(grid, block, tuple(launch_args), sharedmem)
        for d, host in copy_back:
            d.copy_to_host(host)


def _has_host_array(a):
    """Whether argument `a` is or holds a host NumPy array."""
    if isinstance(a, np.ndarray):
        return True
    return isinstance(a, tuple) and any(_has_host_array(x) for x in a)


class _Extensions(list):
    """numba's ``kernel.extensions``: objects whose ``prepare_args(ty, val,
    stream=, retr=)`` rewrite each argument of a launch (``cuda.args.wrap_arg``
    gives a default hint). A change forgets the C fast path's entries, which
    would not call them."""

    def __init__(self, owner, items=()):
        super().__init__(items)
        self._owner = weakref.ref(owner)

    def _changed(self):
        owner = self._owner()
        if owner is not None:
            owner._fastpath_clear()

    def append(self, ext):
        super().append(ext)
        self._changed()

    def extend(self, exts):
        super().extend(exts)
        self._changed()

    def insert(self, i, ext):
        super().insert(i, ext)
        self._changed()

    def remove(self, ext):
        super().remove(ext)
        self._changed()

    def clear(self):
        super().clear()
        self._changed()


class _Overloads(dict):
    """Dispatcher.overloads: keyed by type descriptors, and looked up by any
    signature compile() takes too (numba's ``overloads[(int32[:, ::1],)]``)."""

    def __init__(self, dispatcher):
        super().__init__()
        self._dispatcher = dispatcher

    def _key(self, key):
        if dict.__contains__(self, key):
            return key
        try:
            return self._dispatcher._sig_key(key)
        except Exception:  # not a signature: the plain dict's KeyError
            return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)
class _NoWorkForAll:
    """``kernel.forall(0)``: calling it launches nothing and returns None."""

    def __call__(self, *args):
        return None


class _OccupancyForAll:
    """``kernel.forall(n)`` on a CUDA device: picks the block size when
    called (it depends on the specialisation, hence on the arguments)."""

    def __init__(self, dispatcher, ntasks, stream, sharedmem):
        self.dispatcher, self.ntasks = dispatcher, ntasks
        self.stream, self.sharedmem = stream, sharedmem

    def __call__(self, *args):
        tpb = max(1, min(self.dispatcher._occupancy_block(args, self.sharedmem), self.ntasks))
        blocks = (self.ntasks + tpb - 1) // tpb
        return self.dispatcher[blocks, tpb, self.stream, self.sharedmem](*args)


def _max_cooperative_grid_blocks(kernel, blockdim, dynsmemsize=0):
    """``overload.max_cooperative_grid_blocks(blockdim, dynsmemsize=0)`` (numba):
    the most blocks of ``blockdim`` threads (an int or a 1- to 3-tuple) a
    launch of `kernel` that calls grid.sync() may have. On a GPU: the blocks
    that fit on the current device at once (the driver's occupancy times
    its multiprocessors; the PTX is loaded there to ask). The CPU device
    runs grids of any size in phases: 2**31 - 1, its gridDim.x limit."""
    dims = tuple(blockdim) if isinstance(blockdim, (tuple, list)) else (blockdim,)
    if not 1 <= len(dims) <= 3:
        raise ValueError(f"max_cooperative_grid_blocks: blockdim must have 1 to 3 "
                         f"dimensions, not {len(dims)}")
    dims = tuple(operator.index(d) for d in dims) + (1,) * (3 - len(dims))
    if min(dims) < 1:
        raise ValueError(f"max_cooperative_grid_blocks: blockdim {blockdim} has a "
                         "dimension below 1")
    dynsmemsize = operator.index(dynsmemsize)
    from ..cuda._devices import get_current_device
    dev = get_current_device()
    if kernel.target[0] != "cuda":
        if dev.kind == "cuda":
            raise ValueError(f"max_cooperative_grid_blocks: this is the cpu device's "
                             f"compilation of {kernel.name}; the GPU's limit depends on the "
                             "kernel compiled for it: ask the GPU's compilation (in "
                             "dispatcher.overloads once the kernel has been launched on the "
                             "GPU)")
        return 2**31 - 1
    if dev.kind != "cuda":
        return 2**31 - 1
    module = _ember.Module("cuda", dev.id, kernel.ptx)
    return module.get_kernel(kernel.symbol).max_cooperative_grid_blocks(dims, dynsmemsize)


def _foreign_arrays_to_device(a):
    """Objects with ``__cuda_array_interface__`` (CuPy, PyTorch, numba
    arrays) as DeviceNDArrays over the same memory; tuples element-wise."""
    from ..cuda._devicearray import DeviceNDArray
    if isinstance(a, (DeviceNDArray, np.ndarray, int, float, complex, np.generic)):
        return a
    if isinstance(a, tuple):
        items = [_foreign_arrays_to_device(x) for x in a]
        return type(a)(*items) if _namedtuple_fields(a) else tuple(items)
    if hasattr(a, "__cuda_array_interface__"):
        from ..cuda._interop import as_cuda_array
        return as_cuda_array(a)
    return a


def _default_cc():
    """The current CUDA device's compute capability, or (9, 0) without one."""
    from ..cuda._devices import get_current_device
    dev = get_current_device()
    if dev.kind == "cuda":
        return tuple(dev.compute_capability)
    return (9, 0)


def compile_ptx(pyfunc, sig, device=False, debug=False, lineinfo=False, fastmath=False,
                cc=None, opt=True, abi="numba", abi_info=None):
    """``cuda.compile_ptx``: PTX for `pyfunc` compiled as a kernel for the
    signature `sig`, without a GPU. Returns ``(ptx, return_type)`` (void for
    kernels). `cc` defaults to (9, 0)."""
    from .. import types as ty
    sig = ty.as_signature(sig)
    if isinstance(pyfunc, (Dispatcher, DeviceFunction)):
        pyfunc = pyfunc.py_func
    if device:
        return _compile_device_ptx(pyfunc, sig, debug, lineinfo, fastmath,
                                   (9, 0) if cc is None else tuple(cc), opt)
    d = Dispatcher(pyfunc, debug=debug, fastmath=fastmath, opt=opt, lineinfo=lineinfo)
    k = d.compile_cuda(sig, (9, 0) if cc is None else tuple(cc))
    return k.ptx, ty.void


def _compile_device_ptx(pyfunc, sig, debug, lineinfo, fastmath, cc, opt):
    """compile_ptx(device=True): the device function on its own, a visible
    PTX ``.func`` with its parameters and return value as values (arrays as
    {data, shape..., strides...} structs; see core/lower.c)."""
    from .. import types as ty
    args = tuple(a.descriptor() for a in sig.args)
    ret = sig.return_type
    tree, info = frontend.build_tree(pyfunc, False, args)
    try:
        k = _ember.compile_kernel(
            tree, [_desc_for_c(d) for d in args], 3 if opt and not debug else 0, bool(debug),
            bool(fastmath), target="cuda", cc=cc, lineinfo=bool(lineinfo), debug=bool(debug),
            return_type=None if ret is None else _desc_for_c(ret.descriptor()))
    except (TypingError, UnsupportedError) as exc:
        line, col = getattr(exc, "line", 0) or 0, getattr(exc, "col", 0) or 0
        msg = getattr(exc, "msg", None) or str(exc)
        extra = (f"(compiling device function {pyfunc.__qualname__} for argument types "
                 f"({', '.join(_desc_str(d) for d in args)}))")
        new = type(exc)(frontend.format_error(info, line, col, msg, extra=extra))
        new.filename, new.line, new.col, new.msg = info.filename, line, col, msg
        raise new from None
    if ret is None:
        ret = ty.as_signature(f"{k.return_type}()").return_type
    return k.ptx, ret


def compile_ptx_for_current_device(pyfunc, sig, device=False, debug=False, lineinfo=False,
                                   fastmath=False, opt=True, abi="numba", abi_info=None):
    """compile_ptx for the current CUDA device's compute capability ((9, 0)
    when the current device is the CPU)."""
    return compile_ptx(pyfunc, sig, device=device, debug=debug, lineinfo=lineinfo,
                       fastmath=fastmath, cc=_default_cc(), opt=opt)


def jit(func_or_sig=None, device=False, inline=False, link=(), debug=False, opt=True,
        lineinfo=False, cache=False, fastmath=False, **options):
    """``@cuda.jit`` or ``@cuda.jit(debug=False, fastmath=False, opt=True)``.

    Kernels are specialised on the argument types at each call; with
    explicit signatures (``@cuda.jit("void(float32[::1], float32)")``, a
    Signature from ember.types, or a list) they compile at decoration and
    only those are used. ``device=True`` makes a device function.
    ``cache=True`` keeps the compiled code (host object code, PTX) on disk
    for the next process (python/ember/_compiler/cache.py); device
    functions are cached inside the kernels that call them."""
    if device and link:
        raise NotImplementedError("cuda.jit(device=True, link=...): give the files to the "
                                  "kernel's cuda.jit(link=...) or to cuda.declare_device(..., "
                                  "link=...)")
    if device:
        if func_or_sig is None or isinstance(func_or_sig, (str, list, tuple)) or \
                not callable(func_or_sig):
            sig = func_or_sig
            return lambda fn: DeviceFunction(fn, sig)
        return DeviceFunction(func_or_sig)
    from .. import types as _ty
    if isinstance(func_or_sig, (str, list, tuple, _ty.Signature)):
        sigs = func_or_sig if isinstance(func_or_sig, list) else [func_or_sig]
        sigs = [_ty.as_signature(s) for s in sigs]     # a bad string fails here
        if not sigs:
            raise TypeError("cuda.jit: the list of signatures is empty")

        def eager(fn):
            d = Dispatcher(fn, debug=debug, fastmath=fastmath, opt=opt, lineinfo=lineinfo,
                           cache=cache, link=link, **options)
            for s in sigs:
                d._add_eager(s)
            return d
        return eager

    def wrap(fn):
        return Dispatcher(fn, debug=debug, fastmath=fastmath, opt=opt, lineinfo=lineinfo,
                          cache=cache, link=link, **options)

    if func_or_sig is None:
        return wrap
    return wrap(func_or_sig)
