// launch_floor.cu — the floor of launch overhead: empty kernels with 0, 1, 4
// and 16 pointer arguments plus two scalars (as perf/_kernels_src.py k0..k16),
// launched back to back with the driver API's cuLaunchKernel from C; prints
// JSON: microseconds per launch (host side: the time to enqueue `reps`
// launches, then one synchronisation, divided by reps), median of 7 runs.
//
// Built with: nvcc -O2 -o build/perf/launch_floor perf/cuda/launch_floor.cu -lcuda
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__global__ void k0(double s, long long n) {}
__global__ void k1(double *a, double s, long long n) { if (n < 0) a[0] = s; }
__global__ void k4(double *a, double *b, double *c, double *d, double s, long long n)
{
    if (n < 0) a[0] = b[0] + c[0] + d[0] + s;
}
__global__ void k16(double *a0, double *a1, double *a2, double *a3, double *a4, double *a5,
                    double *a6, double *a7, double *a8, double *a9, double *a10, double *a11,
                    double *a12, double *a13, double *a14, double *a15, double s, long long n)
{
    if (n < 0) {
        a0[0] = a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + s;
        a9[0] = a10[0] + a11[0] + a12[0] + a13[0] + a14[0] + a15[0];
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double per_launch_us(CUfunction f, void **params, int reps)
{
    double runs[7];
    for (int r = 0; r < 7; r++) {
        cuCtxSynchronize();
        double t = now();
        for (int i = 0; i < reps; i++)
            if (cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, 0, params, NULL) != CUDA_SUCCESS) {
                fprintf(stderr, "cuLaunchKernel failed\n");
                exit(1);
            }
        cuCtxSynchronize();
        runs[r] = (now() - t) / reps * 1e6;
    }
    qsort(runs, 7, sizeof *runs, cmp);
    return runs[3];
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 10000;
    cudaFree(0); // the runtime makes the primary context current
    double *bufs[16];
    for (int i = 0; i < 16; i++)
        cudaMalloc(&bufs[i], 8);
    double s = 1.0;
    long long n = 3;
    CUfunction f[4];
    const void *syms[4] = {(const void *)k0, (const void *)k1, (const void *)k4,
                           (const void *)k16};
    for (int i = 0; i < 4; i++)
        if (cudaGetFuncBySymbol(&f[i], syms[i]) != cudaSuccess) {
            fprintf(stderr, "cudaGetFuncBySymbol failed\n");
            return 1;
        }
    void *params[18];
    int counts[4] = {0, 1, 4, 16};
    printf("{");
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < counts[k]; i++)
            params[i] = &bufs[i];
        params[counts[k]] = &s;
        params[counts[k] + 1] = &n;
        printf("%s\"%d\": %g", k ? ", " : "", counts[k], per_launch_us(f[k], params, reps));
    }
    printf("}\n");
    return 0;
}
