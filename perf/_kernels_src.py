"""The benchmark kernels, written once for ember.cuda and numba.cuda: this
file is executed by perf/_kernels.py with the global `cuda` bound to the
module under test (ember.cuda, numba.cuda, or numba's simulator), so the
very same source compiles with each. The CUDA C versions are in
perf/cuda/kernels.cu; the plain loops for @njit in perf/_loops.py."""


TPB = 16  # tile width of matmul_tiled (threads per block per axis)


# ---- launch overhead: empty bodies, 0/1/4/16 array arguments and two scalars
def k0(s, n):
    pass


def k1(a, s, n):
    if n < 0:
        a[0] = s


def k4(a, b, c, d, s, n):
    if n < 0:
        a[0] = b[0] + c[0] + d[0] + s


def k16(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, s, n):
    if n < 0:
        a0[0] = a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + s
        a9[0] = a10[0] + a11[0] + a12[0] + a13[0] + a14[0] + a15[0]


# ---- throughput
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


def matmul_naive(A, B, C):
    i, j = cuda.grid(2)
    if i < C.shape[0] and j < C.shape[1]:
        acc = 0.0
        for k in range(A.shape[1]):
            acc += A[i, k] * B[k, j]
        C[i, j] = acc


def matmul_tiled(A, B, C):
    # numba's documented shared-memory matmul (square blocks of TPB x TPB)
    sA = cuda.shared.array(shape=(TPB, TPB), dtype=float32)
    sB = cuda.shared.array(shape=(TPB, TPB), dtype=float32)
    x, y = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    bpg = cuda.gridDim.x
    tmp = float32(0.0)
    for i in range(bpg):
        sA[ty, tx] = 0
        sB[ty, tx] = 0
        if y < A.shape[0] and (tx + i * TPB) < A.shape[1]:
            sA[ty, tx] = A[y, tx + i * TPB]
        if x < B.shape[1] and (ty + i * TPB) < B.shape[0]:
            sB[ty, tx] = B[ty + i * TPB, x]
        cuda.syncthreads()
        for j in range(TPB):
            tmp += sA[ty, j] * sB[j, tx]
        cuda.syncthreads()
    if y < C.shape[0] and x < C.shape[1]:
        C[y, x] = tmp


def mandel_point(x, y, max_iters):
    c = complex(x, y)
    z = 0.0j
    for i in range(max_iters):
        z = z * z + c
        if (z.real * z.real + z.imag * z.imag) >= 4:
            return i
    return max_iters


def mandelbrot(image, min_x, max_x, min_y, max_y, iters):
    j, i = cuda.grid(2)   # x: column, y: row
    height = image.shape[0]
    width = image.shape[1]
    if i < height and j < width:
        px = (max_x - min_x) / width
        py = (max_y - min_y) / height
        image[i, j] = mandel_device(min_x + j * px, min_y + i * py, iters)


def laplace(u, out):
    j, i = cuda.grid(2)
    if 0 < i < u.shape[0] - 1 and 0 < j < u.shape[1] - 1:
        out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
