"""cuda.Reduce / cuda.reduce: numba's reduction object. A binary Python
function becomes a device function; a kernel reduces a grid-stride share
of the array per block (shared-memory tree down to a warp, then warp
shuffles) and a second one-block launch folds the block results and the
initial value. Both run on the GPU or on the CPU device.

Only elements that exist are ever combined (no identity is needed: any
associative function works, as in numba)."""

import numpy as np


THREADS = 512        # threads per block; a power of two, at least 64
MAX_BLOCKS = THREADS  # so that one block can fold every block's result
_WARP = 32


def _make_kernels(op, dtype):
    from .. import cuda

    # cuda.jit turns the user's function into a device function for any
    # argument types; the kernels below are specialised per dtype.
    device_op = cuda.jit(device=True)(op)

    def fold_with_shuffles(sm, tid, live):
        # sm[0:live] hold values; fold them into sm[0]: a tree in shared
        # memory down to one warp, then warp shuffles.
        s = THREADS // 2
        while s >= _WARP:
            if tid < s and tid + s < live:
                sm[tid] = device_op(sm[tid], sm[tid + s])
            cuda.syncthreads()
            s //= 2
        if tid < _WARP:
            v = sm[tid]
            o = _WARP // 2
            while o > 0:
                other = cuda.shfl_down_sync(0xFFFFFFFF, v, o)
                if tid + o < live and tid + o < _WARP:
                    v = device_op(v, other)
                o //= 2
            if tid == 0:
                sm[0] = v

    def fold_in_shared(sm, tid, live):
        # the same for types a shuffle cannot move (8/16-bit, complex)
        s = THREADS // 2
        while s >= 1:
            if tid < s and tid + s < live:
                sm[tid] = device_op(sm[tid], sm[tid + s])
            cuda.syncthreads()
            s //= 2

    shuffles = np.dtype(dtype).kind in "iuf" and np.dtype(dtype).itemsize in (4, 8)
    fold_block = fold_with_shuffles if shuffles else fold_in_shared
    fold_block = cuda.jit(device=True)(fold_block)

    @cuda.jit
    def per_block(arr, n, per_thread, partials):
        # per_thread == 0: grid-stride shares (coalesced loads on a GPU);
        # else thread g folds the contiguous run [g*per_thread, +per_thread)
        # (a CPU core streams through memory).
        sm = cuda.shared.array(THREADS, dtype)
        tid = cuda.threadIdx.x
        g = cuda.blockIdx.x * THREADS + tid
        if per_thread == 0:
            first, stride, end = g, THREADS * cuda.gridDim.x, n
            owners = n
        else:
            first, stride = g * per_thread, 1
            end = min(first + per_thread, n)
            owners = (n + per_thread - 1) // per_thread
        if first < end:
            acc = arr[first]
            i = first + stride
            while i < end:
                acc = device_op(acc, arr[i])
                i += stride
            sm[tid] = acc
        cuda.syncthreads()
        live = min(owners - cuda.blockIdx.x * THREADS, THREADS)
        fold_block(sm, tid, live)
        if tid == 0:
            partials[cuda.blockIdx.x] = sm[0]

    @cuda.jit
    def final(partials, count, init, out):
        sm = cuda.shared.array(THREADS, dtype)
        tid = cuda.threadIdx.x
        if tid < count:
            sm[tid] = partials[tid]
        cuda.syncthreads()
        fold_block(sm, tid, count)
        if tid == 0:
            out[0] = device_op(init, sm[0])

    return per_block, final


class Reduce:
    """``Reduce(functor)(arr, size=None, res=None, init=0, stream=0)``.

    ``functor(a, b)`` must be associative and commutative, as in numba (the
    order in which elements meet is not specified). ``arr`` is a
    1-D host or device array; ``size`` reduces its first ``size`` elements;
    ``res`` (a device array) receives the result in ``res[0]`` instead of
    returning it; ``init`` is folded in as the first operand."""

    def __init__(self, functor):
        if not callable(functor):
            raise TypeError(f"cuda.Reduce expects a function of two arguments, got {functor!r}")
        self._functor = functor
        self._kernels = {}

    def _kernels_for(self, dtype):
        key = np.dtype(dtype)
        if key not in self._kernels:
            self._kernels[key] = _make_kernels(self._functor, key.type)
        return self._kernels[key]

    def __call__(self, arr, size=None, res=None, init=0, stream=0):
        from .. import cuda

        if getattr(arr, "ndim", 1) != 1:
            raise ValueError(f"cuda.Reduce reduces 1-D arrays; this one has "
                             f"{arr.ndim} dimensions (reshape or ravel it first)")
        n = len(arr) if size is None else int(size)
        if not 0 <= n <= len(arr):
            raise ValueError(f"size={size} is outside the array's length {len(arr)}")
        dtype = np.dtype(arr.dtype)
        init = dtype.type(init)
        if n == 0:
            if res is not None:
                res[:1].copy_to_device(np.array([init], dtype=dtype), stream=stream)
                return None
            return init
        per_block, final = self._kernels_for(dtype)
        d_arr = arr if cuda.is_cuda_array(arr) or isinstance(arr, cuda.DeviceNDArray) \
            else cuda.to_device(np.ascontiguousarray(arr), stream=stream)
        dev = cuda.get_current_device()
        if dev.kind == "cpu":  # a few blocks per worker, contiguous runs
            blocks = min(2 * dev.MULTIPROCESSOR_COUNT, (n + THREADS - 1) // THREADS)
            per_thread = (n + blocks * THREADS - 1) // (blocks * THREADS)
            blocks = ((n + per_thread - 1) // per_thread + THREADS - 1) // THREADS
        else:
            blocks = min(MAX_BLOCKS, (n + THREADS - 1) // THREADS)
            per_thread = 0
        partials = cuda.device_array(blocks, dtype=dtype, stream=stream)
        out = res if res is not None else cuda.device_array(1, dtype=dtype, stream=stream)
        per_block[blocks, THREADS, stream](d_arr, n, per_thread, partials)
        final[1, THREADS, stream](partials, blocks, init, out)
        if res is not None:
            return None
        return out.copy_to_host(stream=stream)[0]


def reduce(functor):
    """``@cuda.reduce`` decorator form of :class:`Reduce`."""
    return Reduce(functor)
