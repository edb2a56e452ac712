"""cuda.In / cuda.Out / cuda.InOut: what moves, checked by the host array's
contents on the CPU device and by the bytes the stand-in CUDA driver
(tests/fake_cuda) is asked to copy on a CUDA device."""

import numpy as np
import pytest

from ember import cuda
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


@cuda.jit
def add_first(a, b):
    a[0] = 3 + b[0]


@pytest.mark.parametrize("hint, expect", [(cuda.In, 0.0), (cuda.Out, 4.0), (cuda.InOut, 4.0)])
def test_cpu_device_semantics(cpu_device, hint, expect):
    a, b = np.zeros(4), np.ones(1)
    add_first[1, 1](hint(a), cuda.In(b))
    assert a[0] == expect and (a[1:] == 0).all() and b[0] == 1


def test_hint_of_a_non_array_is_a_type_error():
    with pytest.raises(TypeError, match="takes a host NumPy array"):
        cuda.In(3.0)


def test_bytes_moved_on_a_cuda_device(env, tmp_path):
    script = tmp_path / "hints.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def read_b(a, b):
    a[0] = b[0]

a, b = np.zeros(100), np.ones(10)
read_b[1, 1](a, b)                      # compile and load first
for hint in ("none", "In", "Out", "InOut"):
    wrap = (lambda x: x) if hint == "none" else getattr(cuda, hint)
    runtime.reset_stats()
    read_b[1, 1](wrap(a), b)
    s = runtime.stats()
    print(hint, s["htod_bytes"], s["dtoh_bytes"])
''')
    got = {l.split()[0]: tuple(map(int, l.split()[1:])) for l in
           run_script(script, env).strip().splitlines()}
    # a: 800 bytes, b: 80 bytes (always in, never back: not written)
    assert got == {"none": (880, 800), "In": (880, 0), "Out": (80, 800), "InOut": (880, 800)}
