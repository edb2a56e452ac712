/*
 * blas.c — matrix products of ember.jit functions through the machine's
 * BLAS, when it has one. np.dot / @ of float32 or float64 matrices (and a
 * matrix times a vector) call cblas_sgemm / cblas_dgemm, found at the first
 * product with dlopen like libNVVM is: EMBER_BLAS names a library (or
 * "none"), else OpenBLAS, then Debian's libblas.so.3 (whose alternatives
 * point at OpenBLAS or the reference BLAS, both with the CBLAS symbols).
 * numba calls SciPy's BLAS the same way; NumPy does too. Operands the BLAS
 * cannot take (strides that are not a multiple of the item size, neither
 * axis contiguous, extents past a C int, another dtype) are left to the
 * compiled loop of core/lower_dot.c, as is everything when there is no BLAS.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "devices/cpu/host_jit.h"

/* CBLAS's enums (cblas.h): row-major order, no-transpose and transpose */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*SgemmFn)(int, int, int, int, int, int, float, const float *, int, const float *,
                        int, float, float *, int);
typedef void (*DgemmFn)(int, int, int, int, int, int, double, const double *, int,
                        const double *, int, double, double *, int);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static SgemmFn blas_sgemm;
static DgemmFn blas_dgemm;
static char blas_name[256];

static void blas_load(void)
{
    static const char *const places[] = {"libopenblas.so.0", "libcblas.so.3", "libblas.so.3"};
    const char *chosen = getenv("EMBER_BLAS");
    if (chosen && strcmp(chosen, "none") == 0)
        return;
    for (size_t i = 0; i < (chosen && *chosen ? 1 : sizeof places / sizeof *places); i++) {
        const char *place = chosen && *chosen ? chosen : places[i];
        void *h = dlopen(place, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h)
            continue;
        SgemmFn s = (SgemmFn)dlsym(h, "cblas_sgemm");
        DgemmFn d = (DgemmFn)dlsym(h, "cblas_dgemm");
        if (s && d) {
            blas_sgemm = s;
            blas_dgemm = d;
            snprintf(blas_name, sizeof blas_name, "%s", place);
            return;
        }
        dlclose(h);
    }
}

const char *host_blas_name(void)
{
    pthread_once(&blas_once, blas_load);
    return blas_name[0] ? blas_name : NULL;
}

/* How BLAS reads an r x c operand with byte strides rs, cs: row-major with
 * leading dimension ld, transposed or not. An axis of extent 1 may have any
 * stride (NumPy gives it one that is not a multiple), so it is taken as the
 * contiguous one's partner. False when BLAS cannot read it in place. */
static bool blas_layout(int64_t r, int64_t c, int64_t rs, int64_t cs, int64_t isz, int *trans,
                        int *ld)
{
    if (r > INT_MAX || c > INT_MAX)
        return false;
    if (c == 1)
        cs = isz;
    if (r == 1)
        rs = c * isz;
    if (cs == isz && rs % isz == 0 && rs / isz >= (c > 1 ? c : 1) && rs / isz <= INT_MAX) {
        *trans = CBLAS_NO_TRANS;
        *ld = (int)(rs / isz);
        return true;
    }
    if (r == 1)
        rs = isz;
    if (c == 1)
        cs = r * isz;
    if (rs == isz && cs % isz == 0 && cs / isz >= (r > 1 ? r : 1) && cs / isz <= INT_MAX) {
        *trans = CBLAS_TRANS;
        *ld = (int)(cs / isz);
        return true;
    }
    return false;
}

int32_t host_gemm(int32_t kind, int64_t m, int64_t n, int64_t k, const void *a, int64_t a_rs,
                  int64_t a_cs, const void *b, int64_t b_rs, int64_t b_cs, void *c)
{
    if ((kind != TY_F32 && kind != TY_F64) || m == 0 || n == 0 || k == 0)
        return 0;
    pthread_once(&blas_once, blas_load);
    if (!blas_dgemm)
        return 0;
    int64_t isz = kind == TY_F32 ? 4 : 8;
    int ta, tb, lda, ldb;
    if (n > INT_MAX || !blas_layout(m, k, a_rs, a_cs, isz, &ta, &lda) ||
        !blas_layout(k, n, b_rs, b_cs, isz, &tb, &ldb))
        return 0;
    /* C = A B, row-major m x n, written over the zeroed result */
    if (kind == TY_F32)
        blas_sgemm(CBLAS_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, 1.0f, a, lda, b, ldb, 0.0f,
                   c, (int)n);
    else
        blas_dgemm(CBLAS_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, 1.0, a, lda, b, ldb, 0.0, c,
                   (int)n);
    return 1;
}
