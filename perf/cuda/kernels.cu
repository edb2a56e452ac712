// kernels.cu — the throughput kernels of perf/_kernels_src.py in CUDA C, the
// floor ember and numba-cuda are compared with (perf/bench_gpu.py), and a
// host<->device bandwidth test (what the CUDA samples' bandwidthTest reports).
//
//   kernels_cu kernels N REPS    saxpy on N floats, device-to-device copy of the same
//                                bytes, tiled matmul, mandelbrot, laplace; prints JSON
//                                (median ms of REPS timed runs, cudaEvent timing)
//   kernels_cu bandwidth BYTES REPS   H2D/D2H, pageable and pinned; JSON in GB/s
//
// Built with: nvcc -O3 -o build/perf/kernels_cu perf/cuda/kernels.cu
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                        \
    do {                                                                                \
        cudaError_t e_ = (x);                                                           \
        if (e_ != cudaSuccess) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x,                  \
                    cudaGetErrorString(e_));                                            \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define TPB 16

__global__ void saxpy(float a, const float *x, const float *y, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = a * x[i] + y[i];
}

// numba's documented shared-memory matmul, as in _kernels_src.py
__global__ void matmul_tiled(const float *A, const float *B, float *C, int n)
{
    __shared__ float sA[TPB][TPB];
    __shared__ float sB[TPB][TPB];
    int x = blockIdx.x * TPB + threadIdx.x, y = blockIdx.y * TPB + threadIdx.y;
    int tx = threadIdx.x, ty = threadIdx.y;
    float tmp = 0.0f;
    for (int i = 0; i < (int)gridDim.x; i++) {
        sA[ty][tx] = 0;
        sB[ty][tx] = 0;
        if (y < n && tx + i * TPB < n)
            sA[ty][tx] = A[y * n + tx + i * TPB];
        if (x < n && ty + i * TPB < n)
            sB[ty][tx] = B[(ty + i * TPB) * n + x];
        __syncthreads();
        for (int j = 0; j < TPB; j++)
            tmp += sA[ty][j] * sB[j][tx];
        __syncthreads();
    }
    if (y < n && x < n)
        C[y * n + x] = tmp;
}

__device__ int mandel_point(double x, double y, int max_iters)
{
    double zr = 0, zi = 0;
    for (int i = 0; i < max_iters; i++) {
        double r = zr * zr - zi * zi + x;
        zi = 2 * zr * zi + y;
        zr = r;
        if (zr * zr + zi * zi >= 4)
            return i;
    }
    return max_iters;
}

__global__ void mandelbrot(int *image, int height, int width, double min_x, double max_x,
                           double min_y, double max_y, int iters)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < height && j < width) {
        double px = (max_x - min_x) / width, py = (max_y - min_y) / height;
        image[i * width + j] = mandel_point(min_x + j * px, min_y + i * py, iters);
    }
}

__global__ void laplace(const double *u, double *out, int rows, int cols)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i > 0 && i < rows - 1 && j > 0 && j < cols - 1)
        out[i * cols + j] = 0.25 * (u[(i - 1) * cols + j] + u[(i + 1) * cols + j] +
                                    u[i * cols + j - 1] + u[i * cols + j + 1]);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// median of `reps` timings (ms) of what `launch` enqueues
#define TIME_MS(result, reps, launch)                                                   \
    do {                                                                                \
        float *t_ = (float *)malloc(sizeof(float) * (reps));                            \
        cudaEvent_t a_, b_;                                                             \
        CHECK(cudaEventCreate(&a_));                                                    \
        CHECK(cudaEventCreate(&b_));                                                    \
        launch;                                                                         \
        CHECK(cudaDeviceSynchronize());                                                 \
        for (int r_ = 0; r_ < (reps); r_++) {                                           \
            CHECK(cudaEventRecord(a_));                                                 \
            launch;                                                                     \
            CHECK(cudaEventRecord(b_));                                                 \
            CHECK(cudaEventSynchronize(b_));                                            \
            CHECK(cudaEventElapsedTime(&t_[r_], a_, b_));                               \
        }                                                                               \
        CHECK(cudaGetLastError());                                                      \
        qsort(t_, (reps), sizeof(float), cmp_float);                                    \
        result = t_[(reps) / 2];                                                        \
        free(t_);                                                                       \
    } while (0)

static int run_kernels(long n, int reps)
{
    float *x, *y, *out;
    CHECK(cudaMalloc(&x, n * sizeof(float)));
    CHECK(cudaMalloc(&y, n * sizeof(float)));
    CHECK(cudaMalloc(&out, n * sizeof(float)));
    CHECK(cudaMemset(x, 0, n * sizeof(float)));
    CHECK(cudaMemset(y, 0, n * sizeof(float)));
    float t_saxpy, t_copy, t_mm, t_mandel, t_laplace;
    TIME_MS(t_saxpy, reps, (saxpy<<<(n + 255) / 256, 256>>>(2.0f, x, y, out, (int)n)));
    TIME_MS(t_copy, reps, CHECK(cudaMemcpy(out, x, n * sizeof(float), cudaMemcpyDeviceToDevice)));
    int mm = 1024;
    float *A, *B, *C;
    CHECK(cudaMalloc(&A, mm * mm * sizeof(float)));
    CHECK(cudaMalloc(&B, mm * mm * sizeof(float)));
    CHECK(cudaMalloc(&C, mm * mm * sizeof(float)));
    CHECK(cudaMemset(A, 0, mm * mm * sizeof(float)));
    CHECK(cudaMemset(B, 0, mm * mm * sizeof(float)));
    dim3 blk(TPB, TPB), grd((mm + TPB - 1) / TPB, (mm + TPB - 1) / TPB);
    TIME_MS(t_mm, reps, (matmul_tiled<<<grd, blk>>>(A, B, C, mm)));
    int h = 1000, w = 1500;
    int *img;
    CHECK(cudaMalloc(&img, h * w * sizeof(int)));
    dim3 g2((w + 15) / 16, (h + 15) / 16), b2(16, 16);
    TIME_MS(t_mandel, reps, (mandelbrot<<<g2, b2>>>(img, h, w, -2.0, 1.0, -1.0, 1.0, 20)));
    int lr = 2048, lc = 2048;
    double *u, *o;
    CHECK(cudaMalloc(&u, lr * lc * sizeof(double)));
    CHECK(cudaMalloc(&o, lr * lc * sizeof(double)));
    CHECK(cudaMemset(u, 0, lr * lc * sizeof(double)));
    dim3 g3((lc + 15) / 16, (lr + 15) / 16);
    TIME_MS(t_laplace, reps, (laplace<<<g3, b2>>>(u, o, lr, lc)));
    printf("{\"saxpy_ms\": %g, \"copy_ms\": %g, \"saxpy_n\": %ld, \"matmul_ms\": %g, "
           "\"matmul_n\": %d, \"mandelbrot_ms\": %g, \"mandelbrot_shape\": [%d, %d], "
           "\"laplace_ms\": %g, \"laplace_shape\": [%d, %d]}\n",
           t_saxpy, t_copy, n, t_mm, mm, t_mandel, h, w, t_laplace, lr, lc);
    return 0;
}

static int run_bandwidth(size_t bytes, int reps)
{
    void *dev, *pageable = malloc(bytes), *pinned;
    CHECK(cudaMalloc(&dev, bytes));
    CHECK(cudaMallocHost(&pinned, bytes));
    memset(pageable, 1, bytes);
    memset(pinned, 1, bytes);
    float h2d_page, d2h_page, h2d_pin, d2h_pin;
    TIME_MS(h2d_page, reps, CHECK(cudaMemcpy(dev, pageable, bytes, cudaMemcpyHostToDevice)));
    TIME_MS(d2h_page, reps, CHECK(cudaMemcpy(pageable, dev, bytes, cudaMemcpyDeviceToHost)));
    TIME_MS(h2d_pin, reps, CHECK(cudaMemcpy(dev, pinned, bytes, cudaMemcpyHostToDevice)));
    TIME_MS(d2h_pin, reps, CHECK(cudaMemcpy(pinned, dev, bytes, cudaMemcpyDeviceToHost)));
    double gb = bytes / 1e9;
    printf("{\"bytes\": %zu, \"h2d_pageable_GBps\": %g, \"d2h_pageable_GBps\": %g, "
           "\"h2d_pinned_GBps\": %g, \"d2h_pinned_GBps\": %g}\n",
           bytes, gb / (h2d_page * 1e-3), gb / (d2h_page * 1e-3), gb / (h2d_pin * 1e-3),
           gb / (d2h_pin * 1e-3));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "kernels") == 0)
        return run_kernels(atol(argv[2]), atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "bandwidth") == 0)
        return run_bandwidth((size_t)atoll(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: %s kernels N REPS | bandwidth BYTES REPS\n", argv[0]);
    return 2;
}
