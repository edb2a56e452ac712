"""The throughput kernels as plain loops, for @njit (numba's and ember's):
what a CPU programmer would write instead of a kernel. Results match the
kernels of perf/_kernels_src.py."""


def saxpy(a, x, y, out):
    for i in range(x.size):
        out[i] = a * x[i] + y[i]


def matmul(A, B, C):
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            acc = 0.0
            for k in range(A.shape[1]):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc


def mandelbrot(image, min_x, max_x, min_y, max_y, iters):
    height = image.shape[0]
    width = image.shape[1]
    px = (max_x - min_x) / width
    py = (max_y - min_y) / height
    for i in range(height):
        for j in range(width):
            c = complex(min_x + j * px, min_y + i * py)
            z = 0.0j
            n = iters
            for k in range(iters):
                z = z * z + c
                if (z.real * z.real + z.imag * z.imag) >= 4:
                    n = k
                    break
            image[i, j] = n


def laplace(u, out):
    for i in range(1, u.shape[0] - 1):
        for j in range(1, u.shape[1] - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
