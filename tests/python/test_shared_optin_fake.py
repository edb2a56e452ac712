"""Dynamic shared memory above 48 KiB on a GPU (issue 15), through the
stand-in driver (tests/fake_cuda): ember sets the function's
MAX_DYNAMIC_SHARED_SIZE_BYTES before the first launch that needs it, once
per new high-water mark (so the C fast path pays nothing on later
launches), and never for launches within the default 48 KiB. The stand-in
refuses a launch above what the function was opted in to, as a GPU does."""

from test_cuda_launch_fake import PRELUDE, run_script


def test_opt_in_is_set_once_per_high_water_mark(fake_cuda_lib, nvvm, tmp_path):
    script = tmp_path / "optin_log.py"
    script.write_text(PRELUDE + r'''
from ember import float32
fake.fake_cuda_log_text.restype = ctypes.c_long

@cuda.jit
def fill(out):
    s = cuda.shared.array(0, float32)
    s[cuda.threadIdx.x] = 1.0
    cuda.syncthreads()
    out[0] = s[0]

dev = cuda.get_current_device()
assert dev.MAX_SHARED_MEMORY_PER_BLOCK == 48 * 1024, dev.MAX_SHARED_MEMORY_PER_BLOCK
assert dev.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN == 227 * 1024  # the stand-in's attribute 97
out = cuda.device_array(1, np.float32)
fill[1, 32, 0, 1024](out)  # compiled and loaded
fake.fake_cuda_log(1)
hits = fill._fastpath_hits
for nbytes in (40 * 1024, 100 * 1024, 100 * 1024, 64 * 1024, 200 * 1024, 100 * 1024):
    fill[1, 32, 0, nbytes](out)
    assert last_launch()["shared"] == nbytes
buf = ctypes.create_string_buffer(1 << 16)
fake.fake_cuda_log_text(buf, ctypes.c_size_t(1 << 16))
print("LOG", buf.value.decode().splitlines())
print("HITS", fill._fastpath_hits - hits)
''')
    out = run_script(script, {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    log = eval(out.split("LOG ", 1)[1].splitlines()[0])
    assert log == ["launch 0",                       # 40 KiB: no opt-in needed
                   "func_attribute 8 102400", "launch 0",
                   "launch 0", "launch 0",           # 100 KiB again, 64 KiB: already allowed
                   "func_attribute 8 204800", "launch 0",
                   "launch 0"], log
    assert out.split("HITS ", 1)[1].split()[0] == "6"  # all through the C fast path
