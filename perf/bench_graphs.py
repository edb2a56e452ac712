"""Graph replay against the launches it holds: 100 small launches (an
element-wise update of 1024 float32 values, each launch waiting for the
previous one on one stream) issued one by one from Python, and the same 100
captured once into a graph (cuda.graph_capture) and replayed with one
g.launch(). The one-by-one launches run twice: on the stream (what the
graph replaces; a launch on a stream takes ember's Python launch path) and
on the default stream (the C fast path). Microseconds per 100 launches, and the ratio launches/graph, on
the current device (a GPU when there is one, else the CPU device; both
when --cpu-too). The results of both ways are compared first.

    PYTHONPATH=python /usr/bin/python3 perf/bench_graphs.py [--quick] [--json FILE]

Writes perf/results/graphs[-quick].json (or FILE).
"""

import argparse

import numpy as np

import _common as C

LAUNCHES = 100
N = 1024


def case(cuda, where, quick):
    @cuda.jit
    def step(x, a):
        i = cuda.grid(1)
        if i < x.size:
            x[i] = x[i] * 0.5 + a

    s = cuda.stream()
    x0 = np.arange(N, dtype=np.float32)
    d_loop, d_graph = cuda.to_device(x0), cuda.to_device(x0)
    blocks = (N + 127) // 128

    def launches():
        for k in range(LAUNCHES):
            step[blocks, 128, s](d_loop, np.float32(k % 7))

    scalars = [np.float32(k % 7) for k in range(LAUNCHES)]

    def default_stream_launches():
        for a in scalars:
            step[blocks, 128](d_loop, a)

    step[blocks, 128, s](d_loop, np.float32(0))  # compiled
    s.synchronize()
    d_loop.copy_to_device(x0)
    with cuda.graph_capture(s) as g:
        for k in range(LAUNCHES):
            step[blocks, 128, s](d_graph, np.float32(k % 7))

    # the same work both ways
    launches()
    g.launch(s)
    s.synchronize()
    np.testing.assert_array_equal(d_loop.copy_to_host(), d_graph.copy_to_host())

    number, repeat = (1, 3) if quick else (10, 15)
    res = {"ember launches": C.measure(launches, number, repeat, sync=s.synchronize),
           "ember launches (default stream)": C.measure(default_stream_launches, number, repeat,
                                                        sync=cuda.synchronize),
           "ember graph": C.measure(lambda: g.launch(s), number, repeat, sync=s.synchronize)}
    row = C.row(f"{LAUNCHES} launches of a {N}-element update ({where})", "us", res,
                base="ember graph")
    r = row["ratios"]["ember launches/ember graph"]
    r0 = row["ratios"]["ember launches (default stream)/ember graph"]
    print(f"{where}: {LAUNCHES} launches on a stream {res['ember launches']['median']:.1f} us, "
          f"on the default stream {res['ember launches (default stream)']['median']:.1f} us, "
          f"graph replay {res['ember graph']['median']:.1f} us: launches/graph = {r:.2f} "
          f"(stream), {r0:.2f} (default stream)")
    g.destroy()
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    p.add_argument("--cpu-too", action="store_true", help="also on the CPU device with a GPU")
    p.add_argument("--json", metavar="FILE", help="where the results go")
    args = p.parse_args()
    from ember import cuda
    gpu = C.gpu_info()
    rows, notes = [], []
    if gpu is not None:
        cuda.select_device(0)
        rows.append(case(cuda, gpu[0], args.quick))
    else:
        notes.append("GPU " + C.no_gpu_reason())
    if gpu is None or args.cpu_too:
        cuda.select_device("cpu")
        rows.append(case(cuda, "cpu device", args.quick))
    C.print_table("graph replay", rows, ["ember launches", "ember launches (default stream)",
                                         "ember graph"])
    C.write_results("graphs", f"{LAUNCHES} small launches: one by one vs one graph replay "
                    "(microseconds, lower is better)", args.quick, rows, notes, path=args.json)


if __name__ == "__main__":
    main()
