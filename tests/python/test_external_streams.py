"""Foreign CUDA streams: cuda.external_stream(handle), the __cuda_stream__
protocol both ways, and __cuda_array_interface__ streams, checked through
the stand-in driver (which refuses unknown stream handles, so work queued
on a wrong one fails) and on the CPU device (which has no CUDA streams)."""

import pytest

from ember import cuda
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


def test_cpu_device_accepts_only_the_default_stream(cpu_device):
    s = cuda.external_stream(0)
    s.synchronize()
    with pytest.raises(ValueError, match="no CUDA streams"):
        cuda.external_stream(0x1234)
    with pytest.raises(TypeError, match="CUstream handle as an int"):
        cuda.external_stream("stream")
    with pytest.raises(AttributeError, match="no CUDA streams"):
        cuda.stream().__cuda_stream__()


def test_foreign_streams_on_a_cuda_device(env, tmp_path):
    script = tmp_path / "streams.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def k(a):
    a[0] = 1

owner = cuda.stream()                        # stands for CuPy's stream
version, handle = owner.__cuda_stream__()
print(version, handle != 0)
ext = cuda.external_stream(handle)
print(ext.__cuda_stream__() == (0, handle))

class Foreign:                                # a CuPy/PyTorch-like stream object
    def __cuda_stream__(self):
        return (0, handle)

d = cuda.device_array(4)
for s in (ext, Foreign()):
    k[1, 1, s](d)
    print(last_launch()["stream"] == handle)
    d.copy_to_host(stream=s)
del ext
owner.synchronize()                           # still the owner's: not destroyed
print("ok")
''')
    assert run_script(script, env).split() == ["0", "True", "True", "True", "True", "ok"]


def test_cuda_array_interface_stream_is_waited_for_alone(env, tmp_path):
    """A foreign array whose interface names a stream: ember synchronises
    that stream (cuStreamSynchronize), not the whole device."""
    script = tmp_path / "cai.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_count.argtypes = [ctypes.c_char_p]
fake.fake_cuda_count.restype = ctypes.c_long
owner = cuda.stream()
handle = owner.__cuda_stream__()[1]
d = cuda.device_array(8)
class Foreign:
    def __init__(self, stream):
        desc = dict(d.__cuda_array_interface__)
        desc["stream"] = stream
        self.__cuda_array_interface__ = desc
for stream in (handle, 1):
    before = (fake.fake_cuda_count(b"cuStreamSynchronize"), fake.fake_cuda_count(b"cuCtxSynchronize"))
    a = cuda.as_cuda_array(Foreign(stream))
    after = (fake.fake_cuda_count(b"cuStreamSynchronize"), fake.fake_cuda_count(b"cuCtxSynchronize"))
    print(after[0] - before[0], after[1] - before[1], a.shape)
try:
    cuda.as_cuda_array(Foreign(0))
except ValueError as e:
    print("refused")
''')
    assert run_script(script, env).split("\n")[:3] == ["1 0 (8,)", "1 0 (8,)", "refused"]
