"""cuda.Reduce against NumPy's sum and against a hand-written reduction
kernel (one kernel per block: shared-memory tree and warp shuffles, block
results summed by a second launch, as a CUDA programmer writes it), on
device arrays of float64, on the current device (the CPU device here), with
numba-cuda's cuda.Reduce beside it on a GPU. Microseconds per reduction,
result on the host.

    PYTHONPATH=python /usr/bin/python3 perf/bench_reduce.py [--quick]

Writes perf/results/reduce.json.
"""

import numpy as np

import _common as C

TPB = 256


def hand_written(cuda):
    from ember import float64

    @cuda.jit
    def block_sums(x, out):
        sm = cuda.shared.array(TPB, float64)
        tid = cuda.threadIdx.x
        i = cuda.grid(1)
        acc = 0.0
        while i < x.size:
            acc += x[i]
            i += cuda.gridsize(1)
        sm[tid] = acc
        cuda.syncthreads()
        s = TPB // 2
        while s >= 32:
            if tid < s:
                sm[tid] += sm[tid + s]
            cuda.syncthreads()
            s //= 2
        if tid < 32:
            v = sm[tid]
            o = 16
            while o > 0:
                v += cuda.shfl_down_sync(0xFFFFFFFF, v, o)
                o //= 2
            if tid == 0:
                out[cuda.blockIdx.x] = v

    def run(d_x, blocks, partials, total):
        block_sums[blocks, TPB](d_x, partials)
        block_sums[1, TPB](partials, total)
        return total.copy_to_host()[0]
    return run


def main():
    args = C.parse_args(__doc__)
    from ember import cuda
    gpu = C.gpu_info()
    cuda.select_device("cpu" if gpu is None else 0)
    where = "cpu device" if gpu is None else gpu[0]
    sizes = [1 << 12, 1 << 16] if args.quick else [1 << 12, 1 << 16, 1 << 20, 1 << 24]
    repeat = 3 if args.quick else 11
    sum_reduce = cuda.Reduce(lambda a, b: a + b)
    hand = hand_written(cuda)
    dev = cuda.get_current_device()
    rows, notes = [], []
    if gpu is None:
        notes.append("GPU " + C.no_gpu_reason() + "; numba-cuda's Reduce needs a GPU")
    for n in sizes:
        x = np.random.default_rng(0).random(n)
        d_x = cuda.to_device(x)
        blocks = min(TPB, (n + TPB - 1) // TPB) if gpu is not None else \
            min(TPB, 2 * dev.MULTIPROCESSOR_COUNT)
        partials = cuda.device_array(blocks)
        total = cuda.device_array(1)
        expect = x.sum()
        for got in (sum_reduce(d_x), hand(d_x, blocks, partials, total)):
            assert abs(got - expect) <= 1e-9 * abs(expect), (got, expect)
        number = max(1, (1 << 20) // n) if not args.quick else 2
        res = {"ember": C.measure(lambda: sum_reduce(d_x), number, repeat),
               "hand-written kernel": C.measure(lambda: hand(d_x, blocks, partials, total),
                                                number, repeat),
               "numpy sum": C.measure(lambda: x.sum(), number, repeat)}
        rows.append(C.row(f"sum of {n} float64 ({where})", "us", res))
    C.print_table("cuda.Reduce", rows, ["ember", "hand-written kernel", "numpy sum"])
    C.write_results("reduce", "cuda.Reduce: microseconds per sum (lower is better)",
                    args.quick, rows, notes)


if __name__ == "__main__":
    main()
