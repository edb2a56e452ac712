/*
 * test_array.c — array descriptors on the cpu device: bounds checking of
 * views, contiguity, and strided copies compared with a reference computed
 * element by element in the test, byte fills (ember_buffer_memset), and
 * arrays of records (EMBER_RECORD) of an odd size.
 */
#include <string.h>

#include "check.h"
#include "ember/ember.h"

static ember_device_t cpu;

/* The address of element idx of a host-accessible array. */
static double *at(const ember_array *a, const int64_t *idx)
{
    char *p = (char *)ember_buffer_host_ptr(a->buffer) + a->offset;
    for (int i = 0; i < a->ndim; i++)
        p += idx[i] * a->strides[i];
    return (double *)p;
}

static void test_views(void)
{
    ember_buffer_t buf;
    CHECK_OK(ember_buffer_create(cpu, EMBER_MEM_DEVICE, 80, &buf)); /* 10 doubles */
    ember_array a = {0};
    int64_t shape[2] = {2, 5};
    CHECK_OK(ember_array_init(&a, buf, EMBER_FLOAT64, 2, shape, NULL, 0));
    CHECK(a.strides[0] == 40 && a.strides[1] == 8);
    CHECK(ember_array_is_c_contiguous(&a) && !ember_array_is_f_contiguous(&a));
    CHECK(ember_array_size(&a) == 10 && ember_array_nbytes(&a) == 80);

    /* Views that leave the buffer are refused and leave *out untouched. */
    ember_array bad = {0};
    int64_t big[1] = {11};
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 1, big, NULL, 0),
                 EMBER_ERR_OUT_OF_BOUNDS);
    CHECK(bad.buffer == NULL);
    int64_t one[1] = {10}, neg[1] = {-8};
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 1, one, neg, 64),
                 EMBER_ERR_OUT_OF_BOUNDS); /* reaches below the start */
    CHECK_OK(ember_array_init(&bad, buf, EMBER_FLOAT64, 1, one, neg, 72)); /* a[::-1] */
    ember_array_fini(&bad);
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 1, one, NULL, 8),
                 EMBER_ERR_OUT_OF_BOUNDS);
    int64_t huge[2] = {INT64_MAX / 2, 4};
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 2, huge, NULL, 0),
                 EMBER_ERR_INVALID_ARG);
    int64_t negdim[1] = {-1};
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 1, negdim, NULL, 0),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_array_init(&bad, buf, EMBER_FLOAT64, 33, shape, NULL, 0),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_array_init(&bad, buf, (ember_dtype)99, 1, one, NULL, 0),
                 EMBER_ERR_INVALID_ARG);
    int64_t empty[2] = {0, 1000};
    CHECK_OK(ember_array_init(&bad, buf, EMBER_FLOAT64, 2, empty, NULL, 80));
    CHECK(ember_array_size(&bad) == 0);
    ember_array_fini(&bad);

    /* Transposed view is F-contiguous; zero strides broadcast. */
    int64_t tshape[2] = {5, 2}, tstr[2] = {8, 40};
    ember_array t;
    CHECK_OK(ember_array_init(&t, buf, EMBER_FLOAT64, 2, tshape, tstr, 0));
    CHECK(ember_array_is_f_contiguous(&t) && !ember_array_is_c_contiguous(&t));
    ember_array_fini(&t);

    /* The array holds its own reference: the buffer outlives our release. */
    ember_buffer_release(buf);
    double *p = ember_buffer_host_ptr(a.buffer);
    p[9] = 42.0;
    CHECK(p[9] == 42.0);
    ember_array_fini(&a);
    ember_array_fini(&a); /* zeroed: safe */
}

static void fill(ember_array *a, double base)
{
    int64_t idx[2];
    for (idx[0] = 0; idx[0] < a->shape[0]; idx[0]++)
        for (idx[1] = 0; idx[1] < a->shape[1]; idx[1]++)
            *at(a, idx) = base + (double)(idx[0] * 100 + idx[1]);
}

static void test_copies(void)
{
    /* A 6x8 C array and an F array of the same shape. */
    int64_t shape[2] = {6, 8};
    ember_array c, f;
    CHECK_OK(ember_array_create(&c, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'C'));
    CHECK_OK(ember_array_create(&f, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'F'));
    CHECK(ember_array_is_f_contiguous(&f));
    fill(&c, 0.5);
    ember_stats_reset();
    CHECK_OK(ember_array_copy(&f, &c, NULL));
    int64_t idx[2];
    int wrong = 0;
    for (idx[0] = 0; idx[0] < 6; idx[0]++)
        for (idx[1] = 0; idx[1] < 8; idx[1]++)
            wrong += *at(&f, idx) != 0.5 + (double)(idx[0] * 100 + idx[1]);
    CHECK(wrong == 0);

    /* Every other column, reversed rows: a view with a negative stride. */
    ember_array v;
    int64_t vshape[2] = {6, 4}, vstr[2] = {-64, 16};
    CHECK_OK(ember_array_init(&v, c.buffer, EMBER_FLOAT64, 2, vshape, vstr, 5 * 64 + 8));
    int64_t dshape[2] = {6, 4};
    ember_array dense;
    CHECK_OK(ember_array_create(&dense, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, dshape, 'C'));
    CHECK_OK(ember_array_copy(&dense, &v, NULL));
    wrong = 0;
    for (idx[0] = 0; idx[0] < 6; idx[0]++)
        for (idx[1] = 0; idx[1] < 4; idx[1]++)
            wrong += *at(&dense, idx) != 0.5 + (double)((5 - idx[0]) * 100 + 2 * idx[1] + 1);
    CHECK(wrong == 0);

    /* Overlapping copy inside one buffer: shift row 0..4 down by one row,
     * as NumPy's c[1:] = c[:-1] does (source read before it is written). */
    ember_array src, dst;
    int64_t rows[2] = {5, 8};
    CHECK_OK(ember_array_init(&src, c.buffer, EMBER_FLOAT64, 2, rows, NULL, 0));
    CHECK_OK(ember_array_init(&dst, c.buffer, EMBER_FLOAT64, 2, rows, NULL, 64));
    CHECK_OK(ember_array_copy(&dst, &src, NULL));
    wrong = 0;
    for (idx[0] = 1; idx[0] < 6; idx[0]++)
        for (idx[1] = 0; idx[1] < 8; idx[1]++)
            wrong += *at(&c, idx) != 0.5 + (double)((idx[0] - 1) * 100 + idx[1]);
    CHECK(wrong == 0);
    /* Overlapping strided: reverse a row in place through a reversed view. */
    ember_array fwd, rev;
    int64_t n8[1] = {8}, r8[1] = {-8};
    CHECK_OK(ember_array_init(&fwd, c.buffer, EMBER_FLOAT64, 1, n8, NULL, 0));
    CHECK_OK(ember_array_init(&rev, c.buffer, EMBER_FLOAT64, 1, n8, r8, 56));
    CHECK_OK(ember_array_copy(&fwd, &rev, NULL));
    double *row0 = ember_buffer_host_ptr(c.buffer);
    wrong = 0;
    for (int j = 0; j < 8; j++)
        wrong += row0[j] != 0.5 + (double)(7 - j);
    CHECK(wrong == 0);

    /* Mismatched shapes and dtypes are refused. */
    CHECK_STATUS(ember_array_copy(&dense, &c, NULL), EMBER_ERR_INVALID_ARG);
    ember_array ints;
    CHECK_OK(ember_array_create(&ints, cpu, EMBER_MEM_DEVICE, EMBER_INT64, 2, dshape, 'C'));
    CHECK_STATUS(ember_array_copy(&ints, &dense, NULL), EMBER_ERR_INVALID_ARG);

    /* Host memory wrapped without ownership: copies count as HtoD / DtoH. */
    double host[24];
    for (int i = 0; i < 24; i++)
        host[i] = i * 1.5;
    ember_buffer_t hb;
    CHECK_OK(ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb));
    ember_array h;
    CHECK_OK(ember_array_init(&h, hb, EMBER_FLOAT64, 2, dshape, NULL, 0));
    ember_buffer_release(hb);
    ember_stats_reset();
    CHECK_OK(ember_array_copy(&dense, &h, NULL));
    CHECK_OK(ember_array_copy(&h, &dense, NULL));
    ember_transfer_stats st;
    ember_stats_get(&st);
    CHECK(st.copies[EMBER_COPY_HTOD] == 1 && st.bytes[EMBER_COPY_HTOD] == 192);
    CHECK(st.copies[EMBER_COPY_DTOH] == 1 && st.bytes[EMBER_COPY_DTOH] == 192);
    CHECK(st.copies[EMBER_COPY_DTOD] == 0 && st.copies[EMBER_COPY_HTOH] == 0);
    CHECK(host[23] == 23 * 1.5);

    ember_array_fini(&h);
    ember_array_fini(&ints);
    ember_array_fini(&fwd);
    ember_array_fini(&rev);
    ember_array_fini(&src);
    ember_array_fini(&dst);
    ember_array_fini(&dense);
    ember_array_fini(&v);
    ember_array_fini(&c);
    ember_array_fini(&f);
}

/* ember_buffer_memset: the byte range it names and nothing else, on the
 * default stream, a stream and a graph capture; ranges past the buffer and
 * another device's stream are refused and write nothing. */
static void test_memset(void)
{
    ember_buffer_t buf;
    CHECK_OK(ember_buffer_create(cpu, EMBER_MEM_DEVICE, 64, &buf));
    unsigned char *p = ember_buffer_host_ptr(buf), want[64];
    memset(p, 0x11, 64);
    memset(want, 0x11, 64);
    CHECK_OK(ember_buffer_memset(buf, 8, 0xAB, 20, NULL));
    memset(want + 8, 0xAB, 20);
    CHECK(memcmp(p, want, 64) == 0);
    ember_stream_t s;
    CHECK_OK(ember_stream_create(cpu, &s));
    CHECK_OK(ember_buffer_memset(buf, 60, 0x00, 4, s));
    memset(want + 60, 0x00, 4);
    CHECK_OK(ember_buffer_memset(buf, 64, 0x77, 0, s)); /* empty, at the end */
    CHECK(memcmp(p, want, 64) == 0);
    CHECK_STATUS(ember_buffer_memset(buf, 60, 0x77, 5, NULL), EMBER_ERR_OUT_OF_BOUNDS);
    CHECK_STATUS(ember_buffer_memset(buf, 65, 0x77, 0, NULL), EMBER_ERR_OUT_OF_BOUNDS);
    CHECK_STATUS(ember_buffer_memset(buf, 1, 0x77, SIZE_MAX, NULL), EMBER_ERR_OUT_OF_BOUNDS);
    CHECK_STATUS(ember_buffer_memset(NULL, 0, 0x77, 1, NULL), EMBER_ERR_INVALID_ARG);
    CHECK(memcmp(p, want, 64) == 0);

    /* captured: recorded, not run; the graph's launch fills */
    ember_graph_t g = NULL;
    CHECK_OK(ember_stream_begin_capture(s));
    CHECK_OK(ember_buffer_memset(buf, 0, 0x5C, 8, s));
    CHECK(memcmp(p, want, 64) == 0);
    CHECK_OK(ember_stream_end_capture(s, &g));
    CHECK_OK(ember_graph_launch(g, s));
    memset(want, 0x5C, 8);
    CHECK(memcmp(p, want, 64) == 0);
    ember_graph_destroy(g);
    ember_stream_destroy(s);
    ember_buffer_release(buf);
}

static void test_dtypes(void)
{
    CHECK(ember_dtype_size(EMBER_COMPLEX128) == 16 && ember_dtype_size(EMBER_FLOAT16) == 2);
    CHECK(strcmp(ember_dtype_name(EMBER_UINT16), "uint16") == 0);
    CHECK(ember_dtype_size((ember_dtype)-1) == 0);
    CHECK(strcmp(ember_dtype_name(EMBER_DTYPE_COUNT), "?") == 0);
    /* A 0-d array holds one element. */
    ember_array s;
    CHECK_OK(ember_array_create(&s, cpu, EMBER_MEM_DEVICE, EMBER_INT32, 0, NULL, 'C'));
    CHECK(ember_array_size(&s) == 1 && ember_array_nbytes(&s) == 4);
    ember_array_fini(&s);
    CHECK_STATUS(ember_array_create(&s, cpu, EMBER_MEM_DEVICE, EMBER_INT32, 0, NULL, 'X'),
                 EMBER_ERR_INVALID_ARG);
}

/* Records are bytes of the array's itemsize: a strided copy of 12-byte
 * records moves each whole, the views' bounds count in records. */
static void test_records(void)
{
    int64_t shape[1] = {5};
    ember_array r, half, dense;
    CHECK_OK(ember_array_create_record(&r, cpu, EMBER_MEM_DEVICE, 12, 1, shape, 'C'));
    CHECK(r.dtype == EMBER_RECORD && r.itemsize == 12 && r.strides[0] == 12);
    CHECK(ember_array_nbytes(&r) == 60 && ember_buffer_size(r.buffer) == 60);
    unsigned char *p = ember_buffer_host_ptr(r.buffer);
    for (int i = 0; i < 60; i++)
        p[i] = (unsigned char)i;
    /* records 0, 2, 4 into a dense array of 3 */
    int64_t hshape[1] = {3}, hstr[1] = {24};
    CHECK_OK(ember_array_init_record(&half, r.buffer, 12, 1, hshape, hstr, 0));
    CHECK(!ember_array_is_c_contiguous(&half));
    CHECK_OK(ember_array_create_record(&dense, cpu, EMBER_MEM_DEVICE, 12, 1, hshape, 'C'));
    CHECK_OK(ember_array_copy(&dense, &half, NULL));
    const unsigned char *d = ember_buffer_host_ptr(dense.buffer);
    int wrong = 0;
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 12; b++)
            wrong += d[k * 12 + b] != (unsigned char)(k * 24 + b);
    CHECK(wrong == 0);
    /* a view one record too long, records of another size, a size of 0,
     * EMBER_RECORD through the scalar API */
    int64_t six[1] = {6};
    ember_array bad;
    CHECK_STATUS(ember_array_init_record(&bad, r.buffer, 12, 1, six, NULL, 0),
                 EMBER_ERR_OUT_OF_BOUNDS);
    ember_array other;
    CHECK_OK(ember_array_create_record(&other, cpu, EMBER_MEM_DEVICE, 8, 1, hshape, 'C'));
    CHECK_STATUS(ember_array_copy(&other, &half, NULL), EMBER_ERR_INVALID_ARG);
    CHECK(strstr(ember_last_error(), "12-byte") != NULL);
    CHECK_STATUS(ember_array_create_record(&bad, cpu, EMBER_MEM_DEVICE, 0, 1, shape, 'C'),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_array_create(&bad, cpu, EMBER_MEM_DEVICE, EMBER_RECORD, 1, shape, 'C'),
                 EMBER_ERR_INVALID_ARG);
    CHECK_STATUS(ember_array_init(&bad, r.buffer, EMBER_RECORD, 1, shape, NULL, 0),
                 EMBER_ERR_INVALID_ARG);
    CHECK(ember_dtype_size(EMBER_RECORD) == 0 && strcmp(ember_dtype_name(EMBER_RECORD),
                                                        "record") == 0);
    ember_array_fini(&other);
    ember_array_fini(&dense);
    ember_array_fini(&half);
    ember_array_fini(&r);
}

int main(void)
{
    CHECK_OK(ember_device_get(EMBER_DEVICE_CPU, 0, &cpu));
    test_views();
    test_memset();
    test_copies();
    test_dtypes();
    test_records();
    ember_transfer_stats st;
    ember_stats_get(&st);
    CHECK(st.bytes_allocated == 0); /* everything freed */
    ember_shutdown();
    return check_report("test_array");
}
