"""Ctrl-C during a long CPU-device launch (issue 14): SIGINT raises
KeyboardInterrupt within a few tens of ms (the launch stops between slices
of blocks, devices/cpu/launch_host.c), and the device and the kernel work
afterwards. A SIGINT handler that does not raise lets the launch finish.
Each case runs a script in a subprocess, bounded by a timeout: before, the
launch ran to its end (minutes)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT

CHILD = textwrap.dedent('''
    import signal, sys, time
    import numpy as np
    from ember import cuda

    @cuda.jit
    def spin(out, n):
        i = cuda.grid(1)
        if i < out.size:
            x = 0.0
            for k in range(n):
                x += k * 1e-9
            out[i] = x

    @cuda.jit
    def spin_sync(out, n):
        buf = cuda.shared.array(64, np.float64)
        t = cuda.threadIdx.x
        x = 0.0
        for k in range(n):
            x += k * 1e-9
        buf[t] = x
        cuda.syncthreads()
        out[cuda.grid(1)] = buf[63 - t]

    @cuda.jit
    def spin_grid(out, n):
        g = cuda.cg.this_grid()
        x = 0.0
        for k in range(n):
            x += k * 1e-9
        g.sync()
        out[cuda.grid(1)] = x

    kernel = {"plain": spin, "sync": spin_sync, "grid": spin_grid}[sys.argv[1]]
    blocks = int(sys.argv[2])
    custom = sys.argv[3] == "custom"
    out = cuda.device_array(blocks * 64)
    kernel[1, 64](out, 1)                       # compiled before the clock starts
    seen = []
    if custom:
        signal.signal(signal.SIGINT, lambda *a: seen.append(time.monotonic()))
    else:  # a terminal's Ctrl-C, also where the runner started us with SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print("launching", flush=True)
    t0 = time.monotonic()
    try:
        kernel[blocks, 64](out, 20000)          # ~1.5 ms per block: minutes in all
        print("finished", time.monotonic() - t0, len(seen), flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
    # the device and the kernel still work
    small = cuda.device_array(4 * 64)
    kernel[4, 64](small, 3)
    want = np.full(4 * 64, 3e-9)
    np.testing.assert_allclose(small.copy_to_host(), want, rtol=1e-12)
    print("usable", flush=True)
''')


def run_child(tmp_path, kind, blocks, handler, send_after):
    script = tmp_path / "child.py"   # ember reads the kernels' source from it
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_DEVICE="cpu")
    proc = subprocess.Popen([sys.executable, str(script), kind, str(blocks), handler],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "launching"
        time.sleep(send_after)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    return sent, out.split()


@pytest.mark.parametrize("kind", ["plain", "sync", "grid"])
def test_ctrl_c_stops_a_long_launch(tmp_path, kind):
    # grid: grid.sync() runs each block as a fiber (devices/cpu/grid_sync.c)
    sent, words = run_child(tmp_path, kind, 100000 if kind != "grid" else 20000, "default",
                            0.5)
    assert words[0] == "interrupted", words
    latency = float(words[1]) - sent
    # about 25 ms here: a poll period (20 ms) plus a slice; the bound leaves
    # room for a loaded machine
    assert 0 <= latency < 0.5, latency
    assert words[-1] == "usable"


def test_a_handler_that_does_not_raise_lets_the_launch_finish(tmp_path):
    # 2000 blocks of about 1.5 ms: seconds
    sent, words = run_child(tmp_path, "plain", 2000, "custom", 0.2)
    assert words[0] == "finished" and words[2] == "1", words   # the handler ran once
    assert words[-1] == "usable"
