"""cuda.profile_start / profile_stop / profiling(): the driver's profiler
calls on a CUDA device (counted by the stand-in driver), nothing on the CPU
device."""

from ember import cuda
from test_cuda_launch_fake import PRELUDE, run_script


def test_cpu_device_does_nothing(cpu_device):
    cuda.profile_start()
    cuda.profile_stop()
    with cuda.profiling():
        pass


def test_cuda_device_calls_the_driver(fake_cuda_lib, tmp_path):
    script = tmp_path / "prof.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_count.argtypes = [ctypes.c_char_p]
fake.fake_cuda_count.restype = ctypes.c_long
def counts():
    return fake.fake_cuda_count(b"cuProfilerStart"), fake.fake_cuda_count(b"cuProfilerStop")
print(*counts())
cuda.profile_start()
print(*counts())
with cuda.profiling():
    print(*counts())
print(*counts())
''')
    out = run_script(script, {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    assert out.split("\n")[:4] == ["0 0", "1 0", "2 0", "2 1"]
