"""ember's main demo: arrays on the default device, copies, and what
``cuda.detect()`` reports.

Run it with ``tools/dev run``. Later issues turn it into the seed article's
mandelbrot, computed by a ``@cuda.jit`` kernel.
"""

import numpy as np

import ember
from ember import cuda


def main():
    found_gpu = cuda.detect()
    dev = cuda.get_current_device()
    print()
    print(f"default device: {dev!r} (GPU found: {found_gpu})")

    rng = np.random.default_rng(7)
    x = rng.standard_normal((1000, 1500)).astype(np.float32)

    ember.runtime.reset_stats()
    stream = cuda.stream()
    start, end = cuda.event(), cuda.event()
    start.record(stream)
    dx = cuda.to_device(x, stream=stream)              # host -> device
    dcol = dx[:, ::3]                                  # a strided view, no copy
    dy = cuda.device_array_like(dx)                    # uninitialised device array
    dy.copy_to_device(dx, stream=stream)               # device -> device
    back = dy.copy_to_host(stream=stream)              # device -> host
    cols = dcol.copy_to_host(stream=stream)            # strided device -> host
    end.record(stream)
    stream.synchronize()

    assert np.array_equal(back, x) and np.array_equal(cols, x[:, ::3])
    s = ember.runtime.stats()
    print(f"copied a {x.shape} float32 array: to the device, device-to-device, back, "
          f"and a strided view of every third column")
    print(f"  moved: {s['htod_bytes']} B host->device in {s['htod_copies']} copies, "
          f"{s['dtod_bytes']} B device->device, {s['dtoh_bytes']} B device->host "
          f"in {s['dtoh_copies']} copies")
    print(f"  took {start.elapsed_time(end):.3f} ms on the stream; results equal NumPy's: yes")
    print(f"  dx: {dx!r}; dcol strides {dcol.strides}")
    print(f"CPU device topology: {ember.cpu!r}")


if __name__ == "__main__":
    main()
