"""``ember.vectorize`` and ``ember.guvectorize``: NumPy ufuncs and gufuncs
from Python scalar (or core) functions, as numba's, for the targets
``cpu``, ``parallel`` and ``cuda``.

cpu / parallel: the scalar function is inlined into a loop function that
ember.jit compiles, e.g. for ``f(a, b)``::

    def loop(a0, a1, out0):
        for i in range(out0.shape[0]):
            out0[i] = f(a0[i], a1[i])

(one over strided operands, one over contiguous ones), and
python/ext/ufunc.c makes it the inner loop of a genuine ``numpy.ufunc``
(``PyUFunc_FromFuncAndData``; gufuncs ``...AndSignature``): broadcasting,
``out=``, casting, ``reduce``, ``accumulate`` and ``outer`` are NumPy's.
The parallel target splits NumPy's outer loop over the cpu device's worker
pool. With signatures ``vectorize`` returns that ufunc; without, a
``DUFunc`` that compiles a loop for each new combination of input types
(numba's dynamic ufunc) and rebuilds its ufunc with it.

cuda: the scalar function becomes a kernel, one thread per element (or per
outer index of a gufunc). Host arrays are copied in and the result out;
device arrays stay on the device and the result is a device array.
Without a GPU the kernel runs on ember's cpu device (the same arrays and
launch path); a single EmberWarning says so, once per process.
"""

import hashlib
import inspect
import linecache
import math
import os
import re
import threading
import warnings

import numpy as np

from . import _ember
from . import types as ty
from ._compiler.dispatcher import compile_lock
from .errors import EmberWarning, TypingError, UnsupportedError

__all__ = ["vectorize", "guvectorize", "DUFunc", "CUDAUFunc", "CUDAGUFunc"]

TARGETS = ("cpu", "parallel", "cuda")

# The parallel target gives each worker chunks of at least this many outer
# iterations (below, the pool's hand-off costs more than it saves).
_GRAIN_UFUNC = 4096
_GRAIN_GUFUNC = 16
_CUDA_THREADS = 256
# A cuda-target ufunc on a GPU with host operands of at least this many
# bytes in all goes through pinned staging in chunks of _STAGE_CHUNK_BYTES
# per operand, on two streams (CUDAUFunc._staged_call).
_STAGE_MIN_BYTES = 8 << 20
_STAGE_CHUNK_BYTES = 4 << 20

_IDENTITIES = {None: -1, 0: 0, 1: 1, "reorderable": -2}

_cpu_fallback_said = False
_said_lock = threading.Lock()


def _new_said_lock():  # in a forked child: the parent's may be held by a thread not there
    global _said_lock
    _said_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_said_lock)


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

def _where(py_func):
    code = getattr(py_func, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else "<unknown>"


def _py_function(func, who):
    """The plain Python function behind `func` (a function, an ember.jit
    function or a cuda device function)."""
    from ._jit import JitDispatcher
    from ._compiler.dispatcher import DeviceFunction
    if isinstance(func, (JitDispatcher, DeviceFunction)):
        func = func.py_func
    if not inspect.isfunction(func):
        raise TypeError(f"{who}: expected a Python function, not {type(func).__name__}")
    return func


def _numba_type(t):
    """An ember type for a numba type object (numba.float32, float64[:])."""
    name = str(t)
    if hasattr(t, "ndim") and hasattr(t, "dtype") and hasattr(t, "layout"):
        return ty.Array(_numba_type(t.dtype), t.ndim, t.layout if t.layout in "CFA" else "A")
    return ty.void if name in ("none", "void") else ty.parse_signature(f"({name})").args[0]


def _signature(sig, who):
    """An ember Signature from a string, an ember Signature, a tuple of
    types, or a numba signature; TypeError naming the bad one."""
    try:
        if isinstance(sig, str):
            return ty.parse_signature(sig)
        if isinstance(sig, (ty.Signature, tuple)):
            return ty.as_signature(sig)
        if hasattr(sig, "args") and hasattr(sig, "return_type"):  # numba's Signature
            ret = sig.return_type
            return ty.Signature(None if ret is None else _numba_type(ret),
                                [_numba_type(a) for a in sig.args])
    except TypeError as exc:
        text = str(exc)
        raise TypeError(f"{who}: {text}" if text.startswith("bad signature") else
                        f"{who}: bad signature {sig!r}: {text}") from None
    raise TypeError(f"{who}: a signature is a string such as 'float64(float64, float64)' or a "
                    f"signature object such as float64(float64, float64), not {sig!r}")


def _signature_list(sigs, who):
    if isinstance(sigs, (str, ty.Signature)) or hasattr(sigs, "return_type"):
        sigs = [sigs]
    return [_signature(s, who) for s in sigs]


def _dtype(t):
    """The NumPy dtype of a scalar type, or of an array type's elements."""
    if isinstance(t, ty.Array):
        t = t.dtype
    return np.dtype("bool" if t.descriptor() == "bool" else t.descriptor())


def _check_target(target, who):
    if target not in TARGETS:
        raise ValueError(f"{who}: unsupported target {target!r}; the targets are "
                         + ", ".join(repr(t) for t in TARGETS))


def _scalar_dtype(value, who, i):
    """The dtype a call argument brings (numba's typeof: int -> int64,
    float -> float64)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float64)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    dt = getattr(value, "dtype", None)
    if isinstance(dt, np.dtype):
        return dt
    try:
        return np.asarray(value).dtype
    except Exception:
        raise TypeError(f"{who}: argument {i + 1} ({type(value).__name__}) is not an array "
                        "or a number") from None


def _supported(dt, who):
    name = "bool" if dt == np.bool_ else dt.name
    if name not in ty._SCALARS or dt.byteorder not in "=|":
        raise TypeError(f"{who}: inputs of dtype {dt} are not supported (ember compiles "
                        "bool, integers, float32/64 and complex64/128)")
    return ty._SCALARS[name]


# ---------------------------------------------------------------------------
# Generated loop functions
# ---------------------------------------------------------------------------

def _exec_source(src, kind, globals_, py_func):
    """Defines the function in `src` under a file name of its own whose text
    linecache holds (the front end reads sources with inspect). The name is
    the same in every process (kind, py_func's name, a hash of `src`), so
    that the disk cache's key of the generated code is too; the cache files
    it under py_func's source (``_ember_cache_owner``)."""
    digest = hashlib.sha1(src.encode()).hexdigest()[:12]
    fname = f"<ember {kind} {getattr(py_func, '__qualname__', '?')} {digest}>"
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    code = compile(src, fname, "exec")
    exec(code, globals_)
    fn = globals_["_ember_" + kind]
    fn._ember_cache_owner = py_func
    return fn


def _loop_globals(py_func, cuda=False):
    from ._compiler.dispatcher import DeviceFunction
    g = {"_ember_f": DeviceFunction(py_func)}
    if cuda:
        from . import cuda as ember_cuda
        g["cuda"] = ember_cuda
    return g


def _loop_source(kind, params, extent, statement, cuda):
    """`def _ember_<kind>(params)` running `statement` for each i in
    range(extent): one thread per i with cuda, else a loop."""
    if cuda:
        return (f"def _ember_{kind}({params}):\n"
                f"    i = cuda.grid(1)\n"
                f"    if i < {extent}:\n"
                f"        {statement}\n")
    return (f"def _ember_{kind}({params}):\n"
            f"    for i in range({extent}):\n"
            f"        {statement}\n")


def _vectorize_source(kind, nin, cuda):
    ins = ", ".join(f"a{i}" for i in range(nin))
    items = ", ".join(f"a{i}[i]" for i in range(nin))
    return _loop_source(kind, f"{ins}, out0", "out0.shape[0]", f"out0[i] = _ember_f({items})",
                        cuda)


def _guvectorize_source(kind, nargs, cuda):
    # every operand comes with the outer dimension first
    ops = ", ".join(f"a{i}" for i in range(nargs))
    items = ", ".join(f"a{i}[i]" for i in range(nargs))
    return _loop_source(kind, ops, "a0.shape[0]", f"_ember_f({items})", cuda)


def _restate(exc, who, py_func, types):
    """A compile error of the generated loop, said about the user's function."""
    msg = str(exc)
    if _where(py_func).split(":")[0] not in msg:
        msg = f"{_where(py_func)}: {msg}"
    new = type(exc)(f"{msg}\n(compiling {who} {py_func.__qualname__} for input types "
                    f"({', '.join(str(t) for t in types)}))")
    for attr in ("filename", "line", "col", "msg"):
        if hasattr(exc, attr):
            setattr(new, attr, getattr(exc, attr))
    return new


def _return_type(py_func, in_types, who):
    """The type the scalar function returns for `in_types` (compiles it)."""
    from ._jit import JitDispatcher
    try:
        k = JitDispatcher(py_func).compile(tuple(t.descriptor() for t in in_types))
    except (TypingError, UnsupportedError) as exc:
        raise _restate(exc, who, py_func, in_types) from None
    rt = k.return_type
    if rt not in ty._SCALARS:
        raise TypingError(f"{_where(py_func)}: {who} {py_func.__qualname__} returns {rt} for "
                          f"input types ({', '.join(str(t) for t in in_types)}); a ufunc's "
                          "function returns one number")
    return ty._SCALARS[rt]


# ---------------------------------------------------------------------------
# vectorize, cpu and parallel: numpy.ufunc
# ---------------------------------------------------------------------------

class _CpuBuilder:
    """Compiles ufunc loops of one scalar function for cpu / parallel."""

    def __init__(self, py_func, nin, parallel, cache, boundscheck=None):
        from ._jit import jit
        self.py_func, self.nin, self.parallel = py_func, nin, parallel
        src = _vectorize_source("vectorize_loop", nin, cuda=False)
        self.loop = jit(cache=cache, boundscheck=boundscheck)(_exec_source(src, "vectorize_loop", _loop_globals(py_func),
                                                  py_func))

    def build(self, in_types, out_type):
        """(type numbers, UfuncLoop) for one signature."""
        def desc(t, layout, readonly):
            return ("array", t.descriptor(), 1, layout, readonly)
        try:
            k = self.loop.compile(tuple(desc(t, "A", True) for t in in_types) +
                                  (desc(out_type, "A", False),))
            kc = self.loop.compile(tuple(desc(t, "C", True) for t in in_types) +
                                   (desc(out_type, "C", False),))
        except (TypingError, UnsupportedError) as exc:
            raise _restate(exc, "vectorize function", self.py_func, in_types) from None
        dts = [_dtype(t) for t in in_types] + [_dtype(out_type)]
        ops = tuple((dt.itemsize, ()) for dt in dts)
        loop = _ember.ufunc_loop(k, kc, ops, len(in_types), self.parallel, _GRAIN_UFUNC)
        return tuple(dt.num for dt in dts), loop


def _make_ufunc(py_func, nin, nout, loops, identity, signature=None, recipe=None):
    """The numpy.ufunc; `recipe` (a _pickle.Recipe) is how pickle makes it
    again in another process (kept by the ufunc, python/ext/ufunc.c)."""
    doc = py_func.__doc__ or ""
    return _ember.make_ufunc(py_func.__name__, doc, nin, nout, list(loops),
                             _IDENTITIES[identity], signature, recipe)


def _recipe(kind, py_func, options, extra):
    from ._pickle import Recipe, install_ufunc_reducer
    install_ufunc_reducer()
    return Recipe(kind, py_func, options, extra)


class _Pickled:
    """Pickling through the object's Recipe (python/ember/_pickle.py)."""

    def _pickle_recipe(self):
        return self._recipe

    def __reduce__(self):
        from ._pickle import reduce_function
        return reduce_function(self, self._pickle_recipe())


def _scalar_args(sig, who, py_func, nin=None):
    for i, a in enumerate(sig.args):
        if not isinstance(a, ty.Scalar):
            raise TypeError(f"{who}: signature {sig}: argument {i + 1} is {a}; vectorize "
                            "functions take numbers (use guvectorize for arrays)")
    if nin is not None and len(sig.args) != nin:
        raise TypeError(f"{who}: signature {sig} has {len(sig.args)} arguments, but "
                        f"{py_func.__qualname__} takes {nin}")
    if sig.return_type is not None and not isinstance(sig.return_type, ty.Scalar):
        raise TypeError(f"{who}: signature {sig}: a vectorize function returns one number")


def _nin(py_func, who):
    params = inspect.signature(py_func).parameters.values()
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in params):
        raise TypeError(f"{who}: {py_func.__qualname__} must take positional arguments only")
    n = len(params)
    if n < 1:
        raise TypeError(f"{who}: {py_func.__qualname__} takes no arguments")
    return n


class DUFunc(_Pickled):
    """A ufunc that compiles a loop for each new combination of input types
    (numba's DUFunc): call it as a ufunc; ``ufunc`` is the numpy.ufunc of
    the loops compiled so far, ``types`` lists them, ``reduce``,
    ``accumulate``, ``reduceat``, ``outer`` and ``at`` compile the loop they
    need first. ``add(sig)`` compiles a signature now."""

    def __init__(self, py_func, identity=None, target="cpu", cache=False):
        self.py_func = py_func
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func
        self.identity_code = identity
        self._nin = _nin(py_func, "vectorize")
        self._builder = _CpuBuilder(py_func, self._nin, target == "parallel", cache)
        self._loops = []        # (type numbers, UfuncLoop), in order of addition
        self._keys = set()      # input dtype tuples compiled
        self._ufunc = None
        self._lock = compile_lock(self)
        self._frozen = False
        self._recipe = _recipe("dufunc", py_func, dict(identity=identity, target=target,
                                                       cache=cache), ())

    def _pickle_recipe(self):
        # the loops compiled so far (input dtypes), compiled again on arrival
        self._recipe.extra = ([tuple(d.str for d in key) for key in self._keys], self._frozen)
        return self._recipe

    def __repr__(self):
        return f"<ember.DUFunc {self.__name__!r}>"

    @property
    def ufunc(self):
        return self._ufunc

    @property
    def types(self):
        return [] if self._ufunc is None else self._ufunc.types

    @property
    def ntypes(self):
        return len(self._loops)

    @property
    def nin(self):
        return self._nin

    @property
    def nout(self):
        return 1

    @property
    def nargs(self):
        return self._nin + 1

    @property
    def identity(self):
        return None if self._ufunc is None else self._ufunc.identity

    @property
    def signature(self):
        return None

    def disable_compile(self):
        """No more loops: a call with new input types is a TypeError."""
        self._frozen = True

    def add(self, sig):
        """Compiles the loop of signature `sig` (a string or signature object)."""
        s = _signature(sig, "DUFunc.add")
        _scalar_args(s, "DUFunc.add", self.py_func, self._nin)
        self._install(list(s.args), s.return_type)

    def _install(self, in_types, out_type=None):
        with self._lock:
            key = tuple(_dtype(t) for t in in_types)
            if key in self._keys:
                return
            if self._frozen:
                raise TypeError(f"{self.__name__}: no loop for input types "
                                f"({', '.join(map(str, in_types))}) and compiling is disabled")
            if out_type is None:
                out_type = _return_type(self.py_func, in_types, "vectorize function")
            self._loops.append(self._builder.build(in_types, out_type))
            self._keys.add(key)
            self._ufunc = _make_ufunc(self.py_func, self._nin, 1, self._loops,
                                      self.identity_code)

    def _install_for(self, args):
        who = self.__name__
        self._install([_supported(_scalar_dtype(a, who, i), who)
                       for i, a in enumerate(args)])

    def __call__(self, *args, **kwargs):
        if len(args) < self._nin:
            raise TypeError(f"{self.__name__}() takes {self._nin} inputs ({len(args)} given)")
        if self._ufunc is not None:
            try:
                return self._ufunc(*args, **kwargs)
            except TypeError:
                key = tuple(_scalar_dtype(a, self.__name__, i)
                            for i, a in enumerate(args[:self._nin]))
                if self._frozen or key in self._keys:
                    raise
        self._install_for(args[:self._nin])
        return self._ufunc(*args, **kwargs)

    def _method_types(self, array, n):
        dt = _scalar_dtype(array, self.__name__, 0)
        self._install([_supported(dt, self.__name__)] * n)

    def reduce(self, array, *args, **kwargs):
        self._method_types(array, self._nin)
        return self._ufunc.reduce(array, *args, **kwargs)

    def accumulate(self, array, *args, **kwargs):
        self._method_types(array, self._nin)
        return self._ufunc.accumulate(array, *args, **kwargs)

    def reduceat(self, array, *args, **kwargs):
        self._method_types(array, self._nin)
        return self._ufunc.reduceat(array, *args, **kwargs)

    def outer(self, *args, **kwargs):
        self._install_for(args[:self._nin])
        return self._ufunc.outer(*args, **kwargs)

    def at(self, array, indices, *args, **kwargs):
        self._install_for((array,) + args[:self._nin - 1])
        return self._ufunc.at(array, indices, *args, **kwargs)


# ---------------------------------------------------------------------------
# cuda target
# ---------------------------------------------------------------------------

def _say_cpu_fallback(who):
    global _cpu_fallback_said
    with _said_lock:
        if _cpu_fallback_said:
            return
        _cpu_fallback_said = True
    warnings.warn(f"{who} with target='cuda': no CUDA GPU is in use, so its kernels run on "
                  "ember's cpu device (said once per process)", EmberWarning, stacklevel=4)


def _is_device_array(x):
    from .cuda._devicearray import DeviceNDArray
    return isinstance(x, DeviceNDArray)


def _pick_loop(sigs, dts, who):
    """The first signature whose inputs equal `dts`, else the first the
    inputs cast to safely (NumPy's rule for ufunc loops)."""
    for s in sigs:
        if tuple(_dtype(a) for a in s.args[:len(dts)]) == dts:
            return s
    for s in sigs:
        if all(np.can_cast(d, _dtype(a), "safe") for d, a in zip(dts, s.args)):
            return s
    raise TypeError(f"{who}: no loop for input types ({', '.join(str(d) for d in dts)}); "
                    f"the loops are {', '.join(str(s) for s in sigs)}")


class _CudaCall(_Pickled):
    """What the cuda target's ufunc and gufunc objects share: the kernel,
    the choice of loop, moving operands to the device and back."""

    def _setup(self, py_func, sigs, cache, kind, src):
        from . import cuda as ember_cuda
        self.py_func = py_func
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func
        self._sigs = sigs
        self._kernel = ember_cuda.jit(cache=cache)(
            _exec_source(src, kind, _loop_globals(py_func, cuda=True), py_func))

    @property
    def types(self):
        return [str(s) for s in self._sigs]

    def _compile(self, dts, ndims):
        """Compiles the kernel for contiguous device operands (what calls pass)."""
        descs = tuple(("array", "bool" if d == np.bool_ else d.name, nd, "C", False)
                      for d, nd in zip(dts, ndims))
        try:
            self._kernel.compile(descs)
        except (TypingError, UnsupportedError) as exc:
            raise _restate(exc, "function", self.py_func, dts[:self._nin]) from None

    def _note_device(self):
        """Says, once, that the kernels run on the cpu device (no GPU)."""
        from .cuda import _devices
        if _devices.get_current_device().kind == "cpu":
            _say_cpu_fallback(type(self).__name__ + " " + self.__name__)

    def _launch(self, n, args, stream):
        if n == 0:
            return
        blocks = (n + _CUDA_THREADS - 1) // _CUDA_THREADS
        try:
            self._kernel[blocks, _CUDA_THREADS, stream](*args)
        except (TypingError, UnsupportedError) as exc:
            raise _restate(exc, "function", self.py_func,
                           [getattr(a, "dtype", type(a)) for a in args]) from None


def _to_device(x, dt, shape, stream, what, host=None):
    """A C-contiguous device array of dtype `dt` and `shape` for operand x
    (host data is broadcast and cast, then copied to a GPU, or used in place
    on the CPU device; device data must fit). `host`, a list, receives
    (the host array the result stands for: x itself, or the cast / broadcast
    copy; whether the result is that array's memory, in place)."""
    from . import cuda as ember_cuda
    from .cuda import _devices
    from .cuda._inplace import host_view, usable_in_place
    if _is_device_array(x):
        if tuple(x.shape) != tuple(shape):
            raise ValueError(f"{what}: a device array of shape {tuple(x.shape)}; device inputs "
                             f"must have the broadcast shape {tuple(shape)} (copy it to the host "
                             "or broadcast it there)")
        if x.dtype != dt:
            raise TypeError(f"{what}: a device array of dtype {x.dtype}, but the loop takes "
                            f"{dt}; device inputs are not cast (use .astype on the host)")
        if not x.is_c_contiguous():
            raise ValueError(f"{what}: device inputs must be C-contiguous")
        return x
    h = np.ascontiguousarray(np.broadcast_to(np.asarray(x).astype(dt, copy=False), shape))
    dev = _devices.get_current_device()
    in_place = dev.kind == "cpu" and usable_in_place(h)
    if host is not None:
        host.append((h, in_place))
    return host_view(h, dev) if in_place else ember_cuda.to_device(h, stream=stream)


def _type_name(dt):
    return "bool" if dt == np.bool_ else dt.name


def _host_result(shape, dtype, stream):
    """(host array, device array) for a result of `shape`: on the CPU device
    one NumPy array used in place; on a GPU a device array (host None)."""
    from . import cuda as ember_cuda
    from .cuda import _devices
    from .cuda._inplace import host_view
    dev = _devices.get_current_device()
    n = math.prod(shape)
    if dev.kind == "cpu" and n:
        h = np.empty(shape, dtype)
        return h, host_view(h, dev)
    return None, ember_cuda.device_array(shape, dtype=dtype, stream=stream)


class CUDAUFunc(_CudaCall):
    """``vectorize(..., target='cuda')``: call it like a ufunc (broadcasting,
    ``out=`` a device array, ``stream=``). Inputs that are device arrays
    give a device array; host inputs give a NumPy array."""

    def __init__(self, py_func, sigs, identity=None, cache=False):
        self._nin = _nin(py_func, "vectorize")
        for s in sigs:
            _scalar_args(s, "vectorize", py_func, self._nin)
        self._setup(py_func, sigs, cache, "vectorize_kernel",
                    _vectorize_source("vectorize_kernel", self._nin, cuda=True))
        self._returns = {}   # input dtypes -> output dtype
        self._cache = cache
        self._host = {}      # input dtypes -> (CPU ufunc of one loop, or None)
        self._builder = None
        self._recipe = _recipe("vectorize", py_func, dict(identity=identity, target="cuda",
                                                          cache=cache), (sigs,))
        for s in sigs:  # compile now: a function that does not type fails here
            ins, ret = self._loop_for(tuple(_dtype(a) for a in s.args))
            self._compile([np.dtype(d) for d in ins] + [ret], [1] * (self._nin + 1))

    def __repr__(self):
        return f"<ember cuda vectorize {self.__name__!r}>"

    @property
    def nin(self):
        return self._nin

    @property
    def nout(self):
        return 1

    def _loop_for(self, dts):
        if self._sigs:
            s = _pick_loop(self._sigs, dts, self.__name__)
            ins = tuple(_dtype(a) for a in s.args)
            if s.return_type is None:
                s = ty.Signature(_return_type(self.py_func, list(s.args), "vectorize function"),
                                 s.args)
            return ins, _dtype(s.return_type)
        if dts not in self._returns:
            types = [_supported(d, self.__name__) for d in dts]
            self._returns[dts] = _dtype(_return_type(self.py_func, types, "vectorize function"))
        return dts, self._returns[dts]

    def _host_ufunc(self, dts):
        """The NumPy ufunc, of the loop this call takes, that host operands
        go through on the CPU device: the same function compiled by the same
        compiler for ember's parallel CPU target, without a launch's overhead
        (None if it does not compile there; the kernel is used then)."""
        if dts not in self._host:
            ins, ret = self._loop_for(dts)
            sig = ty.as_signature(f"{_type_name(ret)}({', '.join(_type_name(d) for d in ins)})")
            try:
                if self._builder is None:
                    self._builder = _CpuBuilder(self.py_func, self._nin, True, self._cache)
                loop = self._builder.build(list(sig.args), sig.return_type)
                self._host[dts] = _make_ufunc(self.py_func, self._nin, 1, [loop], None)
            except (TypingError, UnsupportedError):
                self._host[dts] = None
        return self._host[dts]

    def __call__(self, *args, out=None, stream=0):
        from . import cuda as ember_cuda
        from .cuda import _devices
        if len(args) != self._nin:
            raise TypeError(f"{self.__name__}() takes {self._nin} inputs ({len(args)} given)")
        if out is None and _devices._state.key()[0] == "cpu":
            # host operands on the CPU device (its memory is theirs): the
            # CPU ufunc of the same loop, no copies and no launch
            from .cuda._devicearray import DeviceNDArray
            dts = tuple(a.dtype if type(a) is np.ndarray else _scalar_dtype(a, self.__name__, i)
                        for i, a in enumerate(args) if not isinstance(a, DeviceNDArray))
            u = self._host.get(dts, False)
            if u is False and len(dts) == self._nin:
                u = self._host_ufunc(dts)
            if u:
                if not _cpu_fallback_said:
                    self._note_device()
                return u(*args)
        self._note_device()
        dts = tuple(_scalar_dtype(a, self.__name__, i) for i, a in enumerate(args))
        ins, ret = self._loop_for(dts)
        shape = np.broadcast_shapes(*(tuple(np.shape(a)) if not _is_device_array(a)
                                      else tuple(a.shape) for a in args))
        n = math.prod(shape)
        device_result = out is not None or any(_is_device_array(a) for a in args)
        if not device_result and stream in (0, None) and \
                n * sum(np.dtype(d).itemsize for d in ins + (ret,)) >= _STAGE_MIN_BYTES and \
                _devices._state.key()[0] == "cuda":
            result = self._staged_call(args, ins, ret, shape, n)
            return result.reshape(shape)
        host = None
        dargs = [_to_device(a, d, shape, stream, f"{self.__name__}: input {i + 1}").reshape(n)
                 for i, (a, d) in enumerate(zip(args, ins))]
        if out is not None:
            if not _is_device_array(out) or tuple(out.shape) != tuple(shape) or \
                    out.dtype != ret or not out.is_c_contiguous():
                raise ValueError(f"{self.__name__}: out= must be a C-contiguous device array "
                                 f"of shape {tuple(shape)} and dtype {ret}")
            dout = out.reshape(n)
        elif device_result:
            dout = ember_cuda.device_array(n, dtype=ret, stream=stream)
        else:  # host inputs give a host result (on the CPU device, written in place)
            host, dout = _host_result((n,), ret, stream)
        self._launch(n, dargs + [dout], stream)
        if out is not None:
            return out
        if not device_result and host is not None:
            return host.reshape(shape) if shape else host.reshape(())[()]
        result = dout.reshape(*shape) if shape else dout
        if device_result:
            return result
        host = result.copy_to_host(stream=stream)
        return host.reshape(())[()] if not shape else host  # scalars give a scalar

    def _staged_call(self, args, ins, ret, shape, n):
        """Host operands on a GPU, in chunks: each chunk's inputs are copied
        into pinned staging buffers, sent with asynchronous copies, computed
        and sent back on one of two streams, so that one stream's copies and
        kernel overlap the other's and the host's work on the next chunk
        (the function is elementwise: chunking gives the same numbers).
        Bytes moved: each input once in, the result once back."""
        from . import cuda as ember_cuda
        hosts = [np.ascontiguousarray(np.broadcast_to(np.asarray(a).astype(d, copy=False),
                                                      shape)).reshape(n)
                 for a, d in zip(args, ins)]
        result = np.empty(n, ret)
        dts = [np.dtype(d) for d in ins] + [np.dtype(ret)]
        chunk = max(1, _STAGE_CHUNK_BYTES // max(d.itemsize for d in dts))
        chunk = min(chunk, n)
        streams = [ember_cuda.stream(), ember_cuda.stream()]
        pinned = [[ember_cuda.pinned_array(chunk, d) for d in dts] for _ in streams]
        device = [[ember_cuda.device_array(chunk, d) for d in dts] for _ in streams]
        pending = [None, None]   # (start, count) of the chunk each stream holds

        def collect(s):
            if pending[s] is not None:
                streams[s].synchronize()
                start, m = pending[s]
                result[start:start + m] = pinned[s][-1][:m]
                pending[s] = None
        for k, start in enumerate(range(0, n, chunk)):
            s = k % 2
            collect(s)
            m = min(chunk, n - start)
            for i, h in enumerate(hosts):
                np.copyto(pinned[s][i][:m], h[start:start + m])
                device[s][i][:m].copy_to_device(pinned[s][i][:m], stream=streams[s])
            self._launch(m, [d[:m] for d in device[s]], streams[s])
            device[s][-1][:m].copy_to_host(pinned[s][-1][:m], stream=streams[s])
            pending[s] = (start, m)
        collect(0)
        collect(1)
        return result

    def reduce(self, array, axis=0, stream=0):
        """Reduces a 1-D array on the device by halving it (numba's cuda
        ufuncs do the same; the operation must be associative and
        commutative). Returns a scalar."""
        from . import cuda as ember_cuda
        who = f"{self.__name__}.reduce"
        if self._nin != 2:
            raise ValueError(f"{who}: only ufuncs of two inputs reduce")
        if axis not in (0, -1):
            raise ValueError(f"{who}: axis must be 0 (numba's cuda ufuncs reduce 1-D arrays)")
        d = array if _is_device_array(array) else \
            ember_cuda.to_device(np.ascontiguousarray(array), stream=stream)
        if len(d.shape) != 1 or d.shape[0] == 0:
            raise ValueError(f"{who}: expected a non-empty 1-D array, got shape {d.shape}")
        if not d.is_c_contiguous():
            d = ember_cuda.to_device(d.copy_to_host(stream=stream), stream=stream)
        self._note_device()
        while d.shape[0] > 1:
            m = d.shape[0]
            half = m // 2
            r = self(d[:half], d[half:2 * half], stream=stream)
            if m % 2:  # the odd element joins the first pair
                r[:1].copy_to_device(self(r[:1], d[m - 1:], stream=stream), stream=stream)
            d = r
        return d.copy_to_host(stream=stream)[0]


# ---------------------------------------------------------------------------
# guvectorize
# ---------------------------------------------------------------------------

_DIM = r"\s*\w+\s*"
_CORE = rf"\(\s*(?:{_DIM}(?:,{_DIM})*)?,?\s*\)"
_LAYOUT = re.compile(rf"^\s*{_CORE}(?:\s*,\s*{_CORE})*\s*->\s*{_CORE}(?:\s*,\s*{_CORE})*\s*$")


def _parse_layout(layout, who):
    """([input core dims], [output core dims]) of "(m,n),(n,p)->(m,p)"."""
    if not isinstance(layout, str) or not _LAYOUT.match(layout):
        raise ValueError(f"{who}: bad layout {layout!r}; write it as NumPy's gufunc "
                         "signature, e.g. '(n),(n)->()' or '(m,n),(n,p)->(m,p)'")
    ins, outs = layout.split("->")

    def cores(text):
        return [tuple(d.strip() for d in c.split(",") if d.strip())
                for c in re.findall(r"\(([^()]*)\)", text)]
    return cores(ins), cores(outs)


class _GuLayout:
    """A gufunc's layout checked against one signature: what each operand is
    in the function (array of ndim, or a scalar for a `()` input)."""

    def __init__(self, layout, sig, py_func, who):
        self.ins, self.outs = _parse_layout(layout, who)
        self.cores = self.ins + self.outs
        self.nin, self.nout = len(self.ins), len(self.outs)
        if len(sig.args) != len(self.cores):
            raise ValueError(f"{who}: the layout {layout!r} has {len(self.cores)} operands "
                             f"({self.nin} inputs, {self.nout} outputs), but the signature "
                             f"{sig} has {len(sig.args)} arguments")
        nparams = len(inspect.signature(py_func).parameters)
        if nparams != len(self.cores):
            raise ValueError(f"{who}: the layout {layout!r} has {len(self.cores)} operands, "
                             f"but {py_func.__qualname__} takes {nparams} arguments")
        names = []
        for c in self.cores:
            for d in c:
                if d not in names:
                    names.append(d)
        self.dim_names = names
        self.scalar = []    # per operand: the function sees a number
        for i, (c, a) in enumerate(zip(self.cores, sig.args)):
            out = i >= self.nin
            if isinstance(a, ty.Scalar):
                if c or out:
                    raise ValueError(f"{who}: argument {i + 1} of {sig} is the scalar {a}, but "
                                     f"its layout is ({', '.join(c)})"
                                     + ("; outputs are arrays (float64[:] for '()')" if out
                                        else ""))
                self.scalar.append(True)
            elif isinstance(a, ty.Array):
                want = max(len(c), 1)
                if a.ndim != want:
                    raise ValueError(f"{who}: argument {i + 1} of {sig} is {a} ({a.ndim}-d), "
                                     f"but its layout ({', '.join(c)}) needs {want}-d")
                self.scalar.append(False)
            else:
                raise TypeError(f"{who}: argument {i + 1} of {sig} is {a}; gufunc arguments "
                                "are arrays and numbers")

    def core_axes(self, i):
        """ufunc_loop's core axes of operand i."""
        c = self.cores[i]
        if not c:
            return () if self.scalar[i] else (-1,)
        return tuple(self.dim_names.index(d) for d in c)


def _gu_dtypes(sig):
    return [_dtype(a) for a in sig.args]


class _GuCpuBuilder:
    def __init__(self, py_func, nargs, parallel, cache, boundscheck=None):
        from ._jit import jit
        self.py_func, self.parallel = py_func, parallel
        src = _guvectorize_source("guvectorize_loop", nargs, cuda=False)
        self.loop = jit(cache=cache, boundscheck=boundscheck)(_exec_source(src, "guvectorize_loop",
                                                   _loop_globals(py_func), py_func))

    def build(self, sig, lay):
        dts = _gu_dtypes(sig)
        descs = []
        ops = []
        for i, dt in enumerate(dts):
            axes = lay.core_axes(i)
            descs.append(("array", "bool" if dt == np.bool_ else dt.name, 1 + len(axes), "A",
                          i < lay.nin))
            ops.append((dt.itemsize, axes))
        try:
            k = self.loop.compile(tuple(descs))
        except (TypingError, UnsupportedError) as exc:
            raise _restate(exc, "guvectorize function", self.py_func, sig.args) from None
        loop = _ember.ufunc_loop(k, None, tuple(ops), lay.nin, self.parallel, _GRAIN_GUFUNC)
        return tuple(dt.num for dt in dts), loop


class CUDAGUFunc(_CudaCall):
    """``guvectorize(..., target='cuda')``: one thread per outer index. Host
    inputs give NumPy results, device inputs device arrays; ``out=``
    (a device array, or a tuple of them) and ``stream=`` as numba's."""

    def __init__(self, py_func, sigs, layout, cache=False):
        self._lays = [_GuLayout(layout, s, py_func, "guvectorize") for s in sigs]
        self.layout = layout
        lay = self._lays[0]
        self._nin, self._nout = lay.nin, lay.nout
        self._setup(py_func, sigs, cache, "guvectorize_kernel",
                    _guvectorize_source("guvectorize_kernel", len(lay.cores), cuda=True))
        self._recipe = _recipe("guvectorize", py_func, dict(target="cuda", cache=cache),
                               (sigs, layout))
        for s, lay in zip(sigs, self._lays):
            self._compile(_gu_dtypes(s), [1 + len(lay.core_axes(i))
                                          for i in range(len(lay.cores))])

    def __repr__(self):
        return f"<ember cuda guvectorize {self.__name__!r} {self.layout!r}>"

    def __call__(self, *args, out=None, stream=0):
        from . import cuda as ember_cuda
        who = self.__name__
        if out is not None:
            outs = list(out) if isinstance(out, tuple) else [out]
            args = args + tuple(outs)
        nin = self._nin
        if len(args) not in (nin, nin + self._nout):
            raise TypeError(f"{who}() takes {nin} inputs (and optionally {self._nout} "
                            f"outputs), {len(args)} given")
        self._note_device()
        dts = tuple(_scalar_dtype(a, who, i) for i, a in enumerate(args[:nin]))
        sig = _pick_loop([s for s in self._sigs], dts, who)
        lay = self._lays[self._sigs.index(sig)]
        loop_dts = _gu_dtypes(sig)
        # bind the core dimensions and broadcast the outer ones
        sizes, outers = {}, []
        shapes = [tuple(a.shape) if _is_device_array(a) else np.shape(a) for a in args]
        for i, (shape, core) in enumerate(zip(shapes, lay.cores)):
            if len(shape) < len(core):
                raise ValueError(f"{who}: operand {i + 1} has {len(shape)} dimensions, but "
                                 f"its layout ({', '.join(core)}) needs {len(core)}")
            inner = shape[len(shape) - len(core):]
            for d, n in zip(core, inner):
                if sizes.setdefault(d, n) != n:
                    raise ValueError(f"{who}: core dimension {d!r} is {sizes[d]} and {n} "
                                     f"(operand {i + 1})")
            outers.append(shape[:len(shape) - len(core)])
        outer = np.broadcast_shapes(*outers[:nin]) if nin else ()
        for i in range(nin, len(args)):
            if outers[i] != outer:
                raise ValueError(f"{who}: output {i - nin + 1} has outer shape {outers[i]}, "
                                 f"not {outer}")
        for core in lay.outs:
            for d in core:
                if d not in sizes:
                    raise ValueError(f"{who}: output dimension {d!r} is not given by any "
                                     "input (pass the output array)")
        n = math.prod(outer)
        device_result = any(_is_device_array(a) for a in args)
        host_outs = [a for a in args[nin:] if not _is_device_array(a)]
        for a in host_outs:
            if not isinstance(a, np.ndarray) or not a.flags.writeable:
                raise ValueError(f"{who}: an output must be a writeable NumPy array or a "
                                 "device array")
        # per operand: the device array, the host array it stands for, and
        # whether it is in place (the CPU device) or a copy (a GPU)
        dargs, hosts, in_place = [], [None] * len(lay.cores), [False] * len(lay.cores)
        for i in range(len(lay.cores)):
            core_shape = tuple(sizes[d] for d in lay.cores[i])
            flat = (n,) + (core_shape if lay.cores[i] or lay.scalar[i] else (1,))
            what = f"{who}: operand {i + 1}"
            if i < len(args):
                a, held = args[i], []
                if i < nin and any(np.may_share_memory(a, o) for o in host_outs):
                    a = np.array(a)  # an input the outputs overlap: NumPy's snapshot
                d = _to_device(a, loop_dts[i], outer + core_shape, stream, what, held)
                if held:
                    hosts[i], in_place[i] = held[0]
            elif device_result:
                d = ember_cuda.device_array(outer + core_shape, dtype=loop_dts[i], stream=stream)
            else:
                hosts[i], d = _host_result(outer + core_shape, loop_dts[i], stream)
                in_place[i] = hosts[i] is not None
            dargs.append(d.reshape(*flat) if n else d)
        if n:
            self._launch(n, dargs, stream)
        results = []
        for i in range(nin, len(lay.cores)):
            full = outer + tuple(sizes[d] for d in lay.cores[i])
            h = hosts[i]
            if i < len(args):  # a given output: the result goes into it
                if h is not None and not in_place[i]:
                    dargs[i].copy_to_host(h.reshape(dargs[i].shape), stream=stream)
                if h is not None and h is not args[i]:
                    np.copyto(args[i], h, casting="same_kind")
                results.append(args[i])
            elif device_result:
                results.append(dargs[i].reshape(*full) if full else dargs[i])
            else:
                if h is None:
                    h = dargs[i].copy_to_host(stream=stream)
                results.append(h.reshape(full) if full else h.reshape(())[()])
        return results[0] if len(results) == 1 else tuple(results)


# ---------------------------------------------------------------------------
# The decorators
# ---------------------------------------------------------------------------

def _options(options, who):
    known = ("nopython", "forceobj", "fastmath", "nogil", "boundscheck", "writable_args")
    for k in options:
        if k not in known:
            raise TypeError(f"{who}: unknown option {k}=")
    if options.get("forceobj") or options.get("nopython", True) is False:
        raise UnsupportedError(f"{who}: object mode does not exist in ember; functions "
                               "always compile in nopython mode")


def vectorize(ftylist_or_function=(), identity=None, nopython=True, target="cpu", cache=False,
              **options):
    """``@vectorize`` (numba's): a NumPy ufunc from a scalar function.

    With signatures (``['int64(int64, int64)', 'float32(float32, float32)']``,
    or signature objects) the result for ``target='cpu'`` or ``'parallel'``
    is a ``numpy.ufunc`` compiled now; without them a ``DUFunc`` compiling
    per input types. ``target='cuda'`` gives a CUDAUFunc (runs on the cpu
    device when there is no GPU). ``identity`` (0, 1, None, 'reorderable')
    is the ufunc's; ``cache`` is passed to ember's compile layer."""
    _check_target(target, "vectorize")
    _options(dict(options, nopython=nopython), "vectorize")
    if identity not in _IDENTITIES:
        raise ValueError(f"vectorize: identity must be 0, 1, None or 'reorderable', "
                         f"not {identity!r}")
    if callable(ftylist_or_function) and not isinstance(ftylist_or_function, (str, list,
                                                                               tuple)):
        if not hasattr(ftylist_or_function, "return_type"):
            return vectorize((), identity, nopython, target, cache, **options)(
                ftylist_or_function)
    sigs = _signature_list(ftylist_or_function, "vectorize") if ftylist_or_function else []

    def wrap(func):
        py_func = _py_function(func, "vectorize")
        if target == "cuda":
            return CUDAUFunc(py_func, sigs, identity, cache)
        if not sigs:
            return DUFunc(py_func, identity, target, cache)
        nin = _nin(py_func, "vectorize")
        builder = _CpuBuilder(py_func, nin, target == "parallel", cache,
                              options.get("boundscheck"))
        loops = []
        for s in sigs:
            _scalar_args(s, "vectorize", py_func, nin)
            ret = s.return_type
            if ret is None or isinstance(ret, ty.NoneType):
                ret = _return_type(py_func, list(s.args), "vectorize function")
            loops.append(builder.build(list(s.args), ret))
        recipe = _recipe("vectorize", py_func, dict(identity=identity, target=target,
                                                    cache=cache), (sigs,))
        return _make_ufunc(py_func, nin, 1, loops, identity, recipe=recipe)
    return wrap


def guvectorize(*args, **kwargs):
    """``@guvectorize(signatures, layout)`` (numba's): a NumPy gufunc from a
    function that writes its results into its last argument(s); a ``()``
    output is a 1-element array in the function. ``target`` 'cpu' and
    'parallel' give a ``numpy.ufunc`` with the layout as its signature;
    'cuda' a CUDAGUFunc. Signatures are required."""
    names = ("ftylist", "signature", "identity", "nopython", "target", "cache")
    if len(args) > len(names):
        raise TypeError(f"guvectorize: at most {len(names)} positional arguments")
    opts = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in opts:
            raise TypeError(f"guvectorize: {k} given twice")
        opts[k] = v
    ftylist = opts.pop("ftylist", None)
    layout = opts.pop("signature", None)
    identity = opts.pop("identity", None)
    target = opts.pop("target", "cpu")
    cache = opts.pop("cache", False)
    _check_target(target, "guvectorize")
    _options(opts, "guvectorize")
    if callable(ftylist) and not isinstance(ftylist, str) and \
            not hasattr(ftylist, "return_type"):
        raise TypeError("guvectorize: give the signatures and the layout: "
                        "@guvectorize(['void(float64[:], float64[:], float64[:])'], "
                        "'(n),(n)->()')")
    if layout is None:
        raise TypeError("guvectorize: the layout is missing, e.g. '(n),(n)->()'")
    _parse_layout(layout, "guvectorize")
    sigs = _signature_list(ftylist, "guvectorize") if ftylist else []
    if not sigs:
        raise TypeError("guvectorize: ember needs the signatures, e.g. "
                        "['void(float64[:], float64[:], float64[:])']")
    if identity not in _IDENTITIES:
        raise ValueError(f"guvectorize: identity must be 0, 1, None or 'reorderable', "
                         f"not {identity!r}")

    def wrap(func):
        py_func = _py_function(func, "guvectorize")
        if target == "cuda":
            return CUDAGUFunc(py_func, sigs, layout, cache)
        lays = [_GuLayout(layout, s, py_func, "guvectorize") for s in sigs]
        builder = _GuCpuBuilder(py_func, len(lays[0].cores), target == "parallel", cache,
                                opts.get("boundscheck"))
        loops = [builder.build(s, lay) for s, lay in zip(sigs, lays)]
        canon = "->".join(",".join(f"({','.join(c)})" for c in side)
                          for side in (lays[0].ins, lays[0].outs))
        recipe = _recipe("guvectorize", py_func, dict(identity=identity, target=target,
                                                      cache=cache), (sigs, layout))
        return _make_ufunc(py_func, lays[0].nin, lays[0].nout, loops, identity, canon, recipe)
    return wrap
