"""A large Mandelbrot image, tiled over the worker processes of a Dask cluster.

The image is a dask array of tiles; each tile is computed by an ember
kernel (one thread per pixel) inside ``map_blocks``. The kernel and the
tile function are defined in this script, so Dask ships them to the worker
processes by value (pickled with their source: ember compiles them again
there, once per worker). A ``LocalCluster`` of ``--workers`` processes runs
the tiles, with Dask's progress bar; each worker's ember pool gets
``cores // workers`` threads (``EMBER_NUM_THREADS``) so that the workers do
not oversubscribe the cores. The picture is written as a PNG, and the image
is checked against the same kernel run over the whole image in this one
process: every pixel must be equal (exit status 1 otherwise).

Run:

    PYTHONPATH=python python3 examples/dask_mandelbrot.py [--width 4000 --height 3000]
        [--tile 500] [--workers 2] [--iters 200] [--out build/dask_mandelbrot.png]
"""

import argparse
import os
import pathlib
import struct
import sys
import time
import zlib

import numpy as np

from ember import cuda

MIN_X, MAX_X, MIN_Y, MAX_Y = -2.2, 1.0, -1.2, 1.2


@cuda.jit(device=True)
def escape_count(real, imag, iters):
    zr = 0.0
    zi = 0.0
    for n in range(iters):
        zr, zi = zr * zr - zi * zi + real, 2.0 * zr * zi + imag
        if zr * zr + zi * zi >= 4.0:
            return n
    return iters


@cuda.jit
def mandel_tile(image, row0, col0, width, height, iters):
    """`image` is the tile whose top-left pixel is (row0, col0) of a
    width x height picture."""
    y, x = cuda.grid(2)
    if y < image.shape[0] and x < image.shape[1]:
        real = MIN_X + (col0 + x) * ((MAX_X - MIN_X) / width)
        imag = MIN_Y + (row0 + y) * ((MAX_Y - MIN_Y) / height)
        image[y, x] = escape_count(real, imag, iters)


def render(image, row0, col0, width, height, iters):
    """Fills host array `image` (a tile, or the whole picture)."""
    blocks = ((image.shape[0] + 15) // 16, (image.shape[1] + 15) // 16)
    mandel_tile[blocks, (16, 16)](image, row0, col0, width, height, iters)
    return image


def tile(block, width, height, iters, block_info=None):
    """map_blocks' function: the tile at the block's place in the picture."""
    (row0, _), (col0, _) = block_info[None]["array-location"]
    return render(np.empty(block.shape, np.int32), row0, col0, width, height, iters)


def write_png(path, counts, iters):
    """Colour the escape counts (the set itself black) and write an RGB PNG."""
    t = np.sqrt(counts / iters)
    stops = [0.0, 0.16, 0.42, 0.64, 0.86, 1.0]
    palette = [(0, 7, 100), (32, 107, 203), (237, 255, 255), (255, 170, 0), (0, 2, 0),
               (0, 0, 0)]
    rgb = np.stack([np.interp(t, stops, [p[k] for p in palette]) for k in range(3)], -1)
    rgb = rgb.astype(np.uint8)
    height, width = counts.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], 1)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data)))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
                     + chunk(b"IEND", b""))


def image_array(width, height, tile_size, iters):
    """The picture as a dask array of tiles (nothing computed yet)."""
    import dask.array as da
    blank = da.empty((height, width), chunks=tile_size, dtype=np.int32)
    return blank.map_blocks(tile, width, height, iters, dtype=np.int32)


def main(argv=None):
    root = pathlib.Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--tile", type=int, default=500, help="tile side in pixels")
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--out", type=pathlib.Path, default=root / "build" / "dask_mandelbrot.png")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if min(args.width, args.height, args.tile, args.iters, args.workers) < 1:
        p.error("sizes, --iters and --workers must be positive")

    from dask.distributed import Client, LocalCluster, progress

    cores = len(os.sched_getaffinity(0))
    pool = max(1, cores // args.workers)
    image = image_array(args.width, args.height, args.tile, args.iters)
    t0 = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"EMBER_NUM_THREADS": str(pool)}) as cluster, \
            Client(cluster) as client:
        started = time.perf_counter() - t0
        t0 = time.perf_counter()
        future = client.compute(image)
        if not args.no_progress:
            progress(future)          # Dask's text progress bar on a terminal
            print()
        counts = future.result()
        elapsed = time.perf_counter() - t0
    ntiles = image.npartitions
    print(f"{args.width}x{args.height} pixels, {args.iters} iterations, {ntiles} tiles on "
          f"{args.workers} worker process(es) of {pool} ember thread(s): {elapsed:.2f} s "
          f"(cluster started in {started:.1f} s; workers compiled the kernel themselves)")
    write_png(args.out, counts, args.iters)
    print(f"picture: {args.out}")

    # the check: the same kernel over the whole picture in this process
    t0 = time.perf_counter()
    whole = render(np.empty((args.height, args.width), np.int32), 0, 0, args.width,
                   args.height, args.iters)
    one = time.perf_counter() - t0
    bad = int(np.count_nonzero(whole != counts))
    print(f"one process (compile included): {one:.2f} s; {bad} of {counts.size} pixels differ")
    if bad:
        print("MISMATCH between the tiled image and the one-process image")
        return 1
    print("the tiled image equals the one-process image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
