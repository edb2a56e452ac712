/*
 * sort.c — the sort runtime of ember.jit functions (np.sort, a.sort(),
 * np.argsort): one row of n elements at a byte stride. Values are sorted
 * by an introsort specialised per element type (quicksort with a median of
 * three, insertion sort below 16 elements, heapsort past 2 log2(n) levels),
 * NaNs last as NumPy; argsort is a stable merge sort of indices (NumPy's
 * kind='stable' order). A strided row is gathered into a buffer first.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "devices/cpu/host_jit.h"

/* a < b in NumPy's sort order: NaN after every number */
#define LT_INT(a, b) ((a) < (b))
#define LT_FLT(a, b) ((a) < (b) || ((b) != (b) && (a) == (a)))

#define DEFINE_SORT(NAME, T, LT)                                                        \
    static void NAME##_insertion(T *v, int64_t n)                                       \
    {                                                                                   \
        for (int64_t i = 1; i < n; i++) {                                               \
            T x = v[i];                                                                 \
            int64_t j = i;                                                              \
            while (j > 0 && LT(x, v[j - 1])) {                                          \
                v[j] = v[j - 1];                                                        \
                j--;                                                                    \
            }                                                                           \
            v[j] = x;                                                                   \
        }                                                                               \
    }                                                                                   \
    static void NAME##_sift(T *v, int64_t i, int64_t n)                                 \
    {                                                                                   \
        for (;;) {                                                                      \
            int64_t c = 2 * i + 1;                                                      \
            if (c >= n)                                                                 \
                return;                                                                 \
            if (c + 1 < n && LT(v[c], v[c + 1]))                                        \
                c++;                                                                    \
            if (!LT(v[i], v[c]))                                                        \
                return;                                                                 \
            T t = v[i];                                                                 \
            v[i] = v[c];                                                                \
            v[c] = t;                                                                   \
            i = c;                                                                      \
        }                                                                               \
    }                                                                                   \
    static void NAME##_heap(T *v, int64_t n)                                            \
    {                                                                                   \
        for (int64_t i = n / 2 - 1; i >= 0; i--)                                        \
            NAME##_sift(v, i, n);                                                       \
        for (int64_t e = n - 1; e > 0; e--) {                                           \
            T t = v[0];                                                                 \
            v[0] = v[e];                                                                \
            v[e] = t;                                                                   \
            NAME##_sift(v, 0, e);                                                       \
        }                                                                               \
    }                                                                                   \
    static void NAME##_intro(T *v, int64_t n, int depth)                                \
    {                                                                                   \
        while (n > 16) {                                                                \
            if (depth-- == 0) {                                                         \
                NAME##_heap(v, n);                                                      \
                return;                                                                 \
            }                                                                           \
            int64_t m = n / 2;                                                          \
            /* median of three to v[m], then partition around it */                     \
            if (LT(v[m], v[0])) { T t = v[m]; v[m] = v[0]; v[0] = t; }                  \
            if (LT(v[n - 1], v[m])) { T t = v[m]; v[m] = v[n - 1]; v[n - 1] = t; }      \
            if (LT(v[m], v[0])) { T t = v[m]; v[m] = v[0]; v[0] = t; }                  \
            T p = v[m];                                                                 \
            int64_t i = 0, j = n - 1;                                                   \
            for (;;) {                                                                  \
                while (LT(v[i], p))                                                     \
                    i++;                                                                \
                while (LT(p, v[j]))                                                     \
                    j--;                                                                \
                if (i >= j)                                                             \
                    break;                                                              \
                T t = v[i];                                                             \
                v[i] = v[j];                                                            \
                v[j] = t;                                                               \
                i++;                                                                    \
                j--;                                                                    \
            }                                                                           \
            /* recurse on the smaller side, loop on the larger */                       \
            if (j + 1 < n - j - 1) {                                                    \
                NAME##_intro(v, j + 1, depth);                                          \
                v += j + 1;                                                             \
                n -= j + 1;                                                             \
            } else {                                                                    \
                NAME##_intro(v + j + 1, n - j - 1, depth);                              \
                n = j + 1;                                                              \
            }                                                                           \
        }                                                                               \
        NAME##_insertion(v, n);                                                         \
    }                                                                                   \
    static void NAME##_merge(const T *v, int64_t *idx, int64_t *tmp, int64_t n)         \
    {                                                                                   \
        if (n < 2)                                                                      \
            return;                                                                     \
        if (n <= 16) { /* stable insertion of indices */                                \
            for (int64_t i = 1; i < n; i++) {                                           \
                int64_t x = idx[i], j = i;                                              \
                while (j > 0 && LT(v[x], v[idx[j - 1]])) {                              \
                    idx[j] = idx[j - 1];                                                \
                    j--;                                                                \
                }                                                                       \
                idx[j] = x;                                                             \
            }                                                                           \
            return;                                                                     \
        }                                                                               \
        int64_t m = n / 2, i = 0, j = m, k = 0;                                         \
        NAME##_merge(v, idx, tmp, m);                                                   \
        NAME##_merge(v, idx + m, tmp, n - m);                                           \
        while (i < m && j < n)                                                          \
            tmp[k++] = LT(v[idx[j]], v[idx[i]]) ? idx[j++] : idx[i++];                  \
        while (i < m)                                                                   \
            tmp[k++] = idx[i++];                                                        \
        while (j < n)                                                                   \
            tmp[k++] = idx[j++];                                                        \
        memcpy(idx, tmp, (size_t)n * sizeof *idx);                                      \
    }

DEFINE_SORT(s_bool, uint8_t, LT_INT)
DEFINE_SORT(s_i8, int8_t, LT_INT)
DEFINE_SORT(s_i16, int16_t, LT_INT)
DEFINE_SORT(s_i32, int32_t, LT_INT)
DEFINE_SORT(s_i64, int64_t, LT_INT)
DEFINE_SORT(s_u8, uint8_t, LT_INT)
DEFINE_SORT(s_u16, uint16_t, LT_INT)
DEFINE_SORT(s_u32, uint32_t, LT_INT)
DEFINE_SORT(s_u64, uint64_t, LT_INT)
DEFINE_SORT(s_f32, float, LT_FLT)
DEFINE_SORT(s_f64, double, LT_FLT)

static int depth_limit(int64_t n)
{
    int d = 0;
    while (n > 1) {
        n >>= 1;
        d += 2;
    }
    return d;
}

int32_t host_sort(void *row, int64_t n, int64_t stride, int32_t kind, int64_t *idx)
{
    static const int sizes[TY_KIND_COUNT] = {
        [TY_BOOL] = 1, [TY_I8] = 1, [TY_I16] = 2, [TY_I32] = 4, [TY_I64] = 8, [TY_U8] = 1,
        [TY_U16] = 2, [TY_U32] = 4, [TY_U64] = 8, [TY_F32] = 4, [TY_F64] = 8};
    if (kind < 0 || kind >= TY_KIND_COUNT || !sizes[kind])
        return -1;
    if (n < 1)
        return 0;
    int64_t size = sizes[kind];
    char *v = row, *buf = NULL;
    int64_t *tmp = NULL;
    if (stride != size || idx) { /* gather (argsort reads a contiguous copy too) */
        if (!(buf = malloc((size_t)(n * size))))
            return -1;
        for (int64_t i = 0; i < n; i++)
            memcpy(buf + i * size, (char *)row + i * stride, (size_t)size);
        v = buf;
    }
    if (idx) {
        if (!(tmp = malloc((size_t)n * sizeof *tmp))) {
            free(buf);
            return -1;
        }
        for (int64_t i = 0; i < n; i++)
            idx[i] = i;
    }
    int d = depth_limit(n);
#define CASE(K, NAME, T)                                                                \
    case K:                                                                             \
        if (idx)                                                                        \
            NAME##_merge((const T *)v, idx, tmp, n);                                    \
        else                                                                            \
            NAME##_intro((T *)v, n, d);                                                 \
        break;
    switch (kind) {
    CASE(TY_BOOL, s_bool, uint8_t)
    CASE(TY_I8, s_i8, int8_t)
    CASE(TY_I16, s_i16, int16_t)
    CASE(TY_I32, s_i32, int32_t)
    CASE(TY_I64, s_i64, int64_t)
    CASE(TY_U8, s_u8, uint8_t)
    CASE(TY_U16, s_u16, uint16_t)
    CASE(TY_U32, s_u32, uint32_t)
    CASE(TY_U64, s_u64, uint64_t)
    CASE(TY_F32, s_f32, float)
    CASE(TY_F64, s_f64, double)
    default:
        break;
    }
#undef CASE
    if (buf && !idx) /* scatter back */
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)row + i * stride, buf + i * size, (size_t)size);
    free(buf);
    free(tmp);
    return 0;
}
