"""numba's kernel extensions (``kernel.extensions``: objects whose
``prepare_args(ty, val, stream=, retr=)`` rewrite each argument before a
launch, their ``retr`` callables run after it) and ``cuda.args.wrap_arg``,
on the CPU device."""

import numpy as np
import pytest

from ember import cuda
from ember.cuda.args import In, InOut, Out, wrap_arg


class DefaultIn:
    """numba's test_retrieve_autoconverted_arrays: host arrays go in only."""

    def prepare_args(self, ty, val, **kwargs):
        return ty, wrap_arg(val, default=cuda.In)


def set_first_to_three(a):
    a[0] = 3


def test_default_in_extension_keeps_the_host_array():
    k = cuda.jit(set_first_to_three)
    k.extensions.append(DefaultIn())
    host = np.zeros(2, np.int64)
    k[1, 1](host)
    assert host[0] == 0                       # In: the kernel's write stays on the device
    k[1, 1](cuda.InOut(host))                 # an explicit hint wins over the default
    assert host[0] == 3
    plain = cuda.jit(set_first_to_three)
    other = np.zeros(2, np.int64)
    plain[1, 1](other)
    assert other[0] == 3                      # without the extension: copied back


def test_default_in_extension_on_a_record_array():
    rec_t = np.dtype([("b", np.int32)], align=True)

    @cuda.jit
    def set_b(rec):
        rec[0]["b"] = 3

    host = np.zeros(1, rec_t)
    set_b.extensions.append(DefaultIn())
    set_b[1, 1](host)
    assert host[0]["b"] == 0
    set_b[1, 1](cuda.InOut(host))
    assert host[0]["b"] == 3


def test_extension_sees_types_and_queues_write_backs():
    seen, order = [], []

    class Recorder:
        def prepare_args(self, ty, val, stream=None, retr=None):
            seen.append((str(ty), stream))
            if isinstance(val, np.ndarray):
                d = cuda.to_device(val)
                retr.append(lambda: (order.append("writeback"), d.copy_to_host(val)))
                return ty, d
            return ty, val

    @cuda.jit
    def scale(a, f):
        i = cuda.grid(1)
        if i < a.size:
            a[i] *= f

    scale.extensions.append(Recorder())
    host = np.arange(8, dtype=np.float32)
    scale[1, 8](host, 2.5)
    np.testing.assert_array_equal(host, np.arange(8, dtype=np.float32) * 2.5)
    assert order == ["writeback"]
    assert [t for t, _ in seen] == ["float32[::1]", "float64"], seen
    assert seen[0][1] == 0                    # the default stream, as numba passes it


def test_an_extension_added_after_launches_is_used():
    class Redirect:
        def __init__(self, target):
            self.target = target

        def prepare_args(self, ty, val, **kwargs):
            return ty, self.target

    k = cuda.jit(set_first_to_three)
    a, b = cuda.to_device(np.zeros(1, np.int64)), cuda.to_device(np.zeros(1, np.int64))
    for _ in range(3):                        # the C fast path learns this call
        k[1, 1](a)
    k.extensions.append(Redirect(b))
    k[1, 1](cuda.to_device(np.zeros(1, np.int64)))
    assert b.copy_to_host()[0] == 3
    k.extensions.clear()
    c = cuda.to_device(np.zeros(1, np.int64))
    k[1, 1](c)
    assert c.copy_to_host()[0] == 3 and b.copy_to_host()[0] == 3


def test_wrap_arg():
    host = np.zeros(3)
    assert isinstance(wrap_arg(host), InOut) and wrap_arg(host).value is host
    assert isinstance(wrap_arg(host, default=Out), Out)
    hint = In(host)
    assert wrap_arg(hint, default=Out) is hint
    d = cuda.to_device(host)
    assert wrap_arg(d) is d and wrap_arg(5) == 5      # nothing to move


def test_extensions_option_of_cuda_jit():
    k = cuda.jit(extensions=[DefaultIn()])(set_first_to_three)
    host = np.zeros(1, np.int64)
    k[1, 1](host)
    assert host[0] == 0 and len(k.extensions) == 1


def test_an_extension_error_reaches_the_caller():
    class Broken:
        def prepare_args(self, ty, val, **kwargs):
            raise RuntimeError("extension says no")

    k = cuda.jit(set_first_to_three)
    k.extensions.append(Broken())
    with pytest.raises(RuntimeError, match="extension says no"):
        k[1, 1](np.zeros(1, np.int64))


def test_bind_loads_compiled_kernels_on_the_current_device(tmp_path, fake_cuda_lib, nvvm):
    # numba's test_math compiles with a signature, binds, then launches
    from test_cuda_launch_fake import PRELUDE, run_script
    script = tmp_path / "bind.py"
    script.write_text(PRELUDE + r'''
@cuda.jit("void(float64[::1], float64[::1])")
def twice(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = 2 * a[i]

assert not twice._cuda_modules          # compiled for the CPU view only so far
twice.bind()
assert len(twice._cuda_modules) == 1, twice._cuda_modules
a = np.arange(4.0)
out = cuda.device_array(4)
twice[1, 4](a, out)
assert len(twice._cuda_modules) == 1    # the launch used the bound module
print("bound", last_launch()["name"])
''')
    out = run_script(script, {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    assert out.startswith("bound"), out      # the asserts above ran


def test_bind_on_the_cpu_device_is_harmless():
    k = cuda.jit("void(int64[::1])")(set_first_to_three)
    k.bind()
    host = np.zeros(1, np.int64)
    k[1, 1](host)
    assert host[0] == 3
