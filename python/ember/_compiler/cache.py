"""The disk cache of compiled code: ``cache=True`` on ``ember.jit``,
``cuda.jit`` (and whatever else compiles through ``compile_kernel`` here).

What is stored: the machine code of a specialisation (the host object file,
or the PTX for a CUDA compute capability) with its entry symbol, IR text and
bounds-check sites (``Kernel.cache_data()``, python/ext/compile.c).

The key is a SHA-256 of everything the code depends on:

* the front end's tree of the function (python/ember/_compiler/frontend.py),
  which holds its source structure and locations, the trees of the device
  and jit functions it calls (transitively), and the *values* of the
  globals and closure variables it reads (frozen into the tree as
  constants): editing the function, a callee or such a global changes it;
* the argument types and the compile options (opt level, fastmath,
  boundscheck, target and compute capability, lineinfo, debug);
* ember's version and the identity of its compiled extension (path, size,
  modification time: a rebuilt compiler never reuses old code), the host
  (LLVM triple, CPU, features, LLVM version) for host code, libNVVM's
  version for PTX.

A warm start still runs the front end and type inference (a few ms: the
Kernel needs the typed IR to pack arguments) but neither LLVM's optimiser
and code generator nor libNVVM.

Where: ``__pycache__`` next to the source file; when that is not writable,
the user cache directory (``$XDG_CACHE_HOME/ember`` or ``~/.cache/ember``)
under the source directory's path; ``EMBER_CACHE_DIR`` (or numba's
``NUMBA_CACHE_DIR``) replaces both. Files, per function
``<module>.<qualname>-<line>``: one data file per entry ``.<hash>.embc``
(content addressed) and an index ``.embi`` (JSON: signature and options ->
current data file) used to delete the entry a change replaced.

Safety: files are written to a temporary name and renamed (atomic), so a
reader sees a whole file or none; two processes writing the same entry
write the same bytes. A data file carries its key and a checksum of its
payload; anything damaged, stale or unreadable is ignored (recompile,
overwrite), never an error. Only regular files of bounded size are read
(``_read_regular``): an entry or index that is a FIFO, a symbolic link (to
``/dev/zero`` or anything else), a directory or a file larger than the
bound is ignored without blocking or reading it, and the rename of the
fresh entry replaces it. A function without a source file on disk
(``<stdin>``, ``exec``) is simply not cached: ``stats.cache_path`` is then
None and ``stats.cache_disabled`` says why (numba warns instead).
"""

import collections
import hashlib
import json
import marshal
import os
import stat
import sys
import tempfile

from .. import _ember

__all__ = ["CacheStats", "compile_kernel"]

_MAGIC = b"EMBERC1\n"
_DATA_EXT, _INDEX_EXT = ".embc", ".embi"
# the largest data and index files read: far above any object file or PTX
# ember writes (a few MiB at most), far below what hurts to read
_MAX_DATA_BYTES = 256 << 20
_MAX_INDEX_BYTES = 16 << 20
# open() flags of a cache read: never follow a link in the last component,
# never block on a FIFO (opened without a writer) or a device
_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) |
               getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class CacheStats:
    """Per dispatcher, as numba's ``dispatcher.stats``: ``cache_hits`` and
    ``cache_misses`` count per signature (Counters); ``cache_path`` is the
    directory used (None until the first compile, or when the cache is off);
    ``cache_disabled``: why the cache is off for this function, or None."""

    def __init__(self):
        self.cache_hits = collections.Counter()
        self.cache_misses = collections.Counter()
        self.cache_path = None
        self.cache_disabled = None

    def __repr__(self):
        return (f"CacheStats(hits={sum(self.cache_hits.values())}, "
                f"misses={sum(self.cache_misses.values())}, path={self.cache_path!r})")


# every hit and miss of this process, per "stem signature": the counters
# of compiles that have no dispatcher to show them (the loops and kernels
# vectorize and guvectorize generate)
process_stats = CacheStats()

_identity = None
_nvvm_identity = None


def _compiler_identity():
    """ember's version, its extension's file identity and the host target."""
    global _identity
    if _identity is None:
        from .. import __version__
        try:
            st = os.stat(_ember.__file__)
            ext = f"{_ember.__file__}:{st.st_size}:{st.st_mtime_ns}"
        except (OSError, AttributeError):
            ext = "?"
        # EMBER_CPU_BOUNDS: the CPU device's bounds checks (a measuring switch)
        _identity = f"ember {__version__}\n{ext}\n{_ember.host_target()}\n" \
                    f"{sys.byteorder}\n{os.environ.get('EMBER_CPU_BOUNDS', '')}\n"
    return _identity


def _nvvm_identity_of():
    global _nvvm_identity
    if _nvvm_identity is None:
        try:
            v = _ember.nvvm_version()
            _nvvm_identity = repr((v.get("version"), v.get("ir_version"), v.get("library"),
                                   v.get("libdevice")))
        except Exception:  # no libNVVM: compiling will say so
            _nvvm_identity = "no libNVVM"
    return _nvvm_identity


def _cache_owner(py_func):
    """The function whose file and name a cache entry goes by: the user's
    function for code generated from it (vectorize's loops set
    ``_ember_cache_owner``), else py_func itself."""
    return getattr(py_func, "_ember_cache_owner", None) or py_func


def _source_file(py_func):
    code = getattr(py_func, "__code__", None)
    fname = getattr(code, "co_filename", None)
    if not fname or fname.startswith("<") or not os.path.isfile(fname):
        return None
    return os.path.abspath(fname)


def _user_cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ember")


def _writable_dir(path):
    """Creates `path` if needed; True when files can be written in it."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def cache_dir_for(source):
    """The directory holding the cache of functions defined in `source`."""
    srcdir = os.path.dirname(source)
    override = os.environ.get("EMBER_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
    if override:
        return os.path.join(override, srcdir.lstrip(os.sep))
    local = os.path.join(srcdir, "__pycache__")
    if _writable_dir(local):
        return local
    return os.path.join(_user_cache_root(), srcdir.lstrip(os.sep))


def _stem(py_func, source):
    mod = os.path.splitext(os.path.basename(source))[0]
    qual = "".join(c if c.isalnum() or c in "_." else "_"
                   for c in getattr(py_func, "__qualname__", "f"))
    line = getattr(getattr(py_func, "__code__", None), "co_firstlineno", 0)
    return f"{mod}.{qual}-{line}"


def _write_atomic(path, data):
    """Writes `data` to `path` through a temporary file and a rename."""
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_regular(path, limit):
    """The bytes of `path` when it is a regular file of at most `limit`
    bytes, else None (also when it cannot be read). Checked on the open
    descriptor (fstat), so the file cannot be swapped in between; the read
    stops after `limit` + 1 bytes whatever the size said."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:  # missing, unreadable, or a symbolic link (O_NOFOLLOW: ELOOP)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        parts, n = [], 0
        while n <= limit:
            part = os.read(fd, min(1 << 20, limit + 1 - n))
            if not part:
                break
            parts.append(part)
            n += len(part)
        return b"".join(parts) if n <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_entry(path, key):
    """The payload of data file `path` when it is whole and for `key`."""
    blob = _read_regular(path, _MAX_DATA_BYTES)
    if blob is None:
        return None
    n = len(_MAGIC)
    if len(blob) < n + 64 or blob[:n] != _MAGIC or blob[n:n + 32] != key:
        return None
    payload = blob[n + 64:]
    if hashlib.sha256(payload).digest() != blob[n + 32:n + 64]:
        return None
    return payload


def _update_index(index_path, spec, data_name, directory):
    """Records `data_name` as the entry for `spec`; deletes the data file it
    replaces. Races between processes at most lose a deletion."""
    raw = _read_regular(index_path, _MAX_INDEX_BYTES)  # None: absent or not a regular file
    try:
        index = json.loads(raw.decode("utf-8")) if raw is not None else {}
        entries = index["entries"] if isinstance(index, dict) else {}
        if not isinstance(entries, dict):
            entries = {}
    except (ValueError, KeyError, RecursionError):  # damaged
        entries = {}
    old = entries.get(spec)
    if old == data_name:
        return
    entries[spec] = data_name
    _write_atomic(index_path, json.dumps({"format": 1, "entries": entries},
                                         indent=0, sort_keys=True).encode())
    if isinstance(old, str) and old.endswith(_DATA_EXT) and os.sep not in old and \
            old not in entries.values():
        try:
            os.unlink(os.path.join(directory, old))
        except OSError:
            pass


def _hash_tree(h, tree):
    """Feeds the tree (nested tuples and lists of str, numbers, bytes and
    None) to hash `h`. marshal's format 0 (no references to shared objects,
    no interning flags, so only the values count) is one fast C call; a tree
    deeper than marshal goes (a sum of thousands of terms; repr would hit
    the recursion limit earlier) is walked here without recursion."""
    try:
        h.update(marshal.dumps(tree, 0))
        return
    except ValueError:
        pass
    h.update(b"deep\0")
    todo = [tree]
    while todo:
        t = todo.pop()
        if isinstance(t, (tuple, list)) and any(isinstance(x, (tuple, list)) for x in t):
            h.update(b"(%d " % len(t) if isinstance(t, tuple) else b"[%d " % len(t))
            todo.extend(reversed(t))
        else:  # a leaf, or a node of leaves: one repr
            h.update(repr(t).encode("utf-8", "surrogatepass"))
            h.update(b"\0")


def compile_kernel(tree, param_types, *args, cache=False, py_func=None, stats=None,
                   signature=None, **kwargs):
    """``_ember.compile_kernel(tree, param_types, *args, **kwargs)``, through
    the disk cache when `cache` is true: `py_func` (the Python function the
    tree comes from) says where the cache lives; `stats` (a CacheStats) counts
    hits and misses under `signature`."""
    if not cache:
        return _ember.compile_kernel(tree, param_types, *args, **kwargs)
    owner = _cache_owner(py_func)
    source = _source_file(owner)
    if source is None:
        if stats is not None:
            stats.cache_disabled = "the function has no source file on disk"
        return _ember.compile_kernel(tree, param_types, *args, **kwargs)
    directory = cache_dir_for(source)
    cuda = kwargs.get("target") == "cuda"
    spec = repr((param_types, args, sorted(kwargs.items())))
    # a function argument packs as nothing: its name tells the specs apart
    # (else each function's entry would replace the other's in the index)
    functions = [f"{d[1].__module__}.{d[1].__qualname__}" for d in signature or ()
                 if isinstance(d, tuple) and d[0] == "function"]
    if functions:
        spec += repr(functions)
    h = hashlib.sha256()
    for part in (_compiler_identity(), _nvvm_identity_of() if cuda else "", spec):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    _hash_tree(h, tree)
    key = h.digest()
    stem = _stem(owner, source)
    if owner is not py_func:  # a generated function: its kind after the owner's name
        stem += "." + "".join(c if c.isalnum() or c == "_" else "_" for c in py_func.__name__)
    data_name = f"{stem}.{key.hex()[:40]}{_DATA_EXT}"
    data_path = os.path.join(directory, data_name)
    if stats is not None:
        stats.cache_path = directory
    sig = signature if signature is not None else tuple(param_types)
    payload = _read_entry(data_path, key)
    if payload is not None:
        try:
            k = _ember.compile_kernel(tree, param_types, *args, cached=payload, **kwargs)
        except (ValueError, RuntimeError):
            # made for another target, or LLVM refused the object code:
            # compile and overwrite
            k = None
        if k is not None:
            if stats is not None:
                stats.cache_hits[sig] += 1
            process_stats.cache_hits[f"{stem} {sig}"] += 1
            return k
    k = _ember.compile_kernel(tree, param_types, *args, **kwargs)
    if stats is not None:
        stats.cache_misses[sig] += 1
    process_stats.cache_misses[f"{stem} {sig}"] += 1
    data = k.cache_data()
    if data is not None and _writable_dir(directory):
        try:
            _write_atomic(data_path, _MAGIC + key + hashlib.sha256(data).digest() + data)
            _update_index(os.path.join(directory, stem + _INDEX_EXT),
                          hashlib.sha256(spec.encode()).hexdigest()[:32], data_name, directory)
        except OSError:
            pass  # a full or read-only disk: the compiled kernel still works
    return k

