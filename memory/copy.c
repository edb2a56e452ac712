/*
 * copy.c — element-wise copies between any two arrays of equal shape.
 *
 * Contiguous arrays of the same layout move in one device copy. Anything
 * else is a strided copy: done in place when both sides are host-accessible,
 * otherwise staged through host memory (the device-side byte span is read,
 * the elements are gathered/scattered on the host, and the span is written
 * back). Staging synchronises the stream. On a CUDA device the staging
 * memory is pinned, from the device's pool (the DMA reads and writes it
 * directly, and the next strided copy reuses it); elsewhere, or when no
 * pinned memory is left, it is ordinary host memory. A device-side strided
 * copy kernel can replace staging once the CUDA backend compiles kernels.
 * ember_buffer_memset, the byte fill numba's driver.device_memset makes, is
 * here too: one device call on a byte range of a buffer.
 */
#include <string.h>

#include "launch/launch_impl.h"
#include "memory/memory_impl.h"

static const char *device_label(struct ember_device *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%d", d->info.kind == EMBER_DEVICE_CPU ? "cpu" : "cuda",
             d->info.ordinal);
    return buf;
}

static ember_copy_dir direction(const ember_array *dst, const ember_array *src)
{
    bool dh = mem_is_host_side(dst->buffer->kind), sh = mem_is_host_side(src->buffer->kind);
    if (sh && dh)
        return EMBER_COPY_HTOH;
    if (sh)
        return EMBER_COPY_HTOD;
    if (dh)
        return EMBER_COPY_DTOH;
    return EMBER_COPY_DTOD;
}

/* Copies one element of `size` bytes. */
static inline void copy_elem(char *d, const char *s, size_t size)
{
    switch (size) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    case 16: memcpy(d, s, 16); break;
    default: memcpy(d, s, size);
    }
}

/* Strided host copy of the elements at axis `axis` and below. */
static void host_strided(char *d, const int64_t *dstr, const char *s, const int64_t *sstr,
                         const int64_t *shape, int ndim, int axis, size_t item)
{
    if (axis == ndim) {
        copy_elem(d, s, item);
        return;
    }
    int64_t n = shape[axis];
    if (axis == ndim - 1) {
        if (dstr[axis] == (int64_t)item && sstr[axis] == (int64_t)item) {
            memmove(d, s, (size_t)n * item);
            return;
        }
        for (int64_t i = 0; i < n; i++)
            copy_elem(d + i * dstr[axis], s + i * sstr[axis], item);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        host_strided(d + i * dstr[axis], dstr, s + i * sstr[axis], sstr, shape, ndim, axis + 1,
                     item);
}

static bool same_dense_layout(const ember_array *a, const ember_array *b)
{
    return (ember_array_is_c_contiguous(a) && ember_array_is_c_contiguous(b)) ||
           (ember_array_is_f_contiguous(a) && ember_array_is_f_contiguous(b));
}

/* Address of the lowest byte of a dense array: its element 0 when all
 * non-trivial strides are positive, which contiguity guarantees. */
static uint64_t dense_start(const ember_array *a, bool on_device)
{
    uint64_t base = on_device ? a->buffer->device_ptr : (uint64_t)(uintptr_t)a->buffer->host;
    return base + (uint64_t)a->offset;
}

static bool host_accessible(const ember_array *a) { return a->buffer->host != NULL; }

/* Raw copy of `n` bytes run by device `dev` between a host pointer or a
 * device address of `dev`. */
static ember_status raw_copy(struct ember_device *dev, uint64_t dst, bool dst_dev, uint64_t src,
                             bool src_dev, size_t n, void *stream)
{
    if (n == 0)
        return EMBER_SUCCESS;
    return dev->iface->copy(dev->ctx, dst, dst_dev, src, src_dev, n, stream);
}

/* Host memory for staging: a pinned pool block or an em_malloc'ed one. */
struct stage {
    char *p;                 /* NULL until allocated */
    struct ember_device *dev; /* the device the block came from, or NULL */
    struct pool_block *blk;  /* owned pinned block, or NULL (then p is em_malloc'ed) */
};

/* `n` bytes of staging memory for copies with `dev` on native `stream`
 * (dev NULL: no device copy touches it). */
static ember_status stage_alloc(struct ember_device *dev, size_t n, void *stream, struct stage *s)
{
    s->dev = NULL;
    s->blk = NULL;
    if (dev && dev->info.kind == EMBER_DEVICE_CUDA) {
        if (mempool_alloc(dev, EMBER_MEM_PINNED, n, stream, &s->blk) == EMBER_SUCCESS) {
            s->dev = dev;
            s->p = s->blk->host;
            return EMBER_SUCCESS;
        }
        s->blk = NULL;
        ember_clear_error(); /* pageable memory serves as well, only slower */
    }
    s->p = em_malloc(n ? n : 1);
    return s->p ? EMBER_SUCCESS : EMBER_ERR_OUT_OF_MEMORY;
}

/* Gives staging memory back; the work that used it has been waited for
 * (on failure the pool's free-time event guards the block anyway). */
static void stage_free(struct stage *s)
{
    if (s->blk)
        mempool_free(s->dev, s->blk);
    else
        em_free(s->p);
    s->p = NULL;
    s->blk = NULL;
}

/* A host copy of a device-only array's span: `*tmp` (caller frees with
 * stage_free) holds the bytes [lo, hi) and `*view` is `a` rebased onto it
 * (no buffer reference). */
static ember_status stage_in(const ember_array *a, void *stream, struct stage *tmp,
                             ember_array *view, int64_t *lo_out)
{
    int64_t lo, hi;
    ember_status st = array_span(a, &lo, &hi);
    if (st != EMBER_SUCCESS)
        return st;
    struct ember_device *dev = a->buffer->device;
    if ((st = stage_alloc(dev, (size_t)(hi - lo), stream, tmp)) != EMBER_SUCCESS)
        return st;
    st = raw_copy(dev, (uint64_t)(uintptr_t)tmp->p, false, a->buffer->device_ptr + (uint64_t)lo,
                  true, (size_t)(hi - lo), stream);
    if (st == EMBER_SUCCESS)
        st = dev->iface->stream_synchronize(dev->ctx, stream);
    if (st != EMBER_SUCCESS) {
        stage_free(tmp);
        return st;
    }
    *view = *a;
    view->buffer = NULL;
    view->offset = a->offset - lo;
    *lo_out = lo;
    return EMBER_SUCCESS;
}

/* Host address of element 0 of `a`, given its host base. */
static char *elem0(const ember_array *a, char *base) { return base + a->offset; }

/* The strided path: anything that is not one dense copy. */
static ember_status strided_copy(const ember_array *dst, const ember_array *src, void *dst_stream,
                                 void *src_stream)
{
    size_t item = (size_t)src->itemsize;
    ember_status st = EMBER_SUCCESS;
    /* Source bytes on the host: the array itself, or a staged snapshot. A
     * snapshot also makes an overlapping copy within one buffer safe. */
    struct stage src_tmp = {0};
    const char *s;
    ember_array sview;
    int64_t slo = 0;
    bool overlap = dst->buffer == src->buffer;
    if (host_accessible(src) && !overlap) {
        if (src_stream) {
            st = src->buffer->device->iface->stream_synchronize(src->buffer->device->ctx,
                                                                src_stream);
            if (st != EMBER_SUCCESS)
                return st;
        }
        sview = *src;
        s = elem0(src, src->buffer->host);
    } else if (host_accessible(src)) {
        int64_t lo, hi;
        if ((st = array_span(src, &lo, &hi)) != EMBER_SUCCESS)
            return st;
        if ((st = stage_alloc(NULL, (size_t)(hi - lo), NULL, &src_tmp)) != EMBER_SUCCESS)
            return st;
        memcpy(src_tmp.p, src->buffer->host + lo, (size_t)(hi - lo));
        sview = *src;
        sview.offset = src->offset - lo;
        s = elem0(&sview, src_tmp.p);
    } else {
        if ((st = stage_in(src, src_stream, &src_tmp, &sview, &slo)) != EMBER_SUCCESS)
            return st;
        s = elem0(&sview, src_tmp.p);
    }

    if (host_accessible(dst)) {
        if (dst_stream)
            st = dst->buffer->device->iface->stream_synchronize(dst->buffer->device->ctx,
                                                                dst_stream);
        if (st == EMBER_SUCCESS)
            host_strided(elem0(dst, dst->buffer->host), dst->strides, s, sview.strides,
                         src->shape, src->ndim, 0, item);
        stage_free(&src_tmp);
        return st;
    }

    struct ember_device *ddev = dst->buffer->device;
    struct stage dst_tmp = {0};
    if (ember_array_is_c_contiguous(dst) || ember_array_is_f_contiguous(dst)) {
        /* Gather into a dense host copy with dst's layout, one device write. */
        size_t n = (size_t)ember_array_nbytes(dst);
        if ((st = stage_alloc(ddev, n, dst_stream, &dst_tmp)) != EMBER_SUCCESS) {
            stage_free(&src_tmp);
            return st;
        }
        host_strided(dst_tmp.p, dst->strides, s, sview.strides, src->shape, src->ndim, 0, item);
        st = raw_copy(ddev, dense_start(dst, true), true, (uint64_t)(uintptr_t)dst_tmp.p, false,
                      n, dst_stream);
    } else {
        /* Read-modify-write of dst's span keeps the bytes between elements. */
        ember_array dview;
        int64_t dlo;
        st = stage_in(dst, dst_stream, &dst_tmp, &dview, &dlo);
        if (st == EMBER_SUCCESS) {
            int64_t lo, hi;
            array_span(dst, &lo, &hi);
            host_strided(elem0(&dview, dst_tmp.p), dst->strides, s, sview.strides, src->shape,
                         src->ndim, 0, item);
            st = raw_copy(ddev, dst->buffer->device_ptr + (uint64_t)dlo, true,
                          (uint64_t)(uintptr_t)dst_tmp.p, false, (size_t)(hi - lo), dst_stream);
        }
    }
    /* The host temporaries must outlive the queued write. */
    if (st == EMBER_SUCCESS)
        st = ddev->iface->stream_synchronize(ddev->ctx, dst_stream);
    stage_free(&dst_tmp);
    stage_free(&src_tmp);
    return st;
}

static ember_status check_pair(const ember_array *dst, const ember_array *src)
{
    if (!dst || !src || !dst->buffer || !src->buffer)
        return em_error(EMBER_ERR_INVALID_ARG, "copy: NULL or uninitialised array");
    if (dst->dtype != src->dtype)
        return em_error(EMBER_ERR_INVALID_ARG, "copy: dtype %s does not match %s",
                        ember_dtype_name(dst->dtype), ember_dtype_name(src->dtype));
    if (dst->itemsize != src->itemsize) /* records of different sizes */
        return em_error(EMBER_ERR_INVALID_ARG, "copy: %lld-byte records do not match %lld-byte "
                        "ones", (long long)dst->itemsize, (long long)src->itemsize);
    bool same = dst->ndim == src->ndim;
    for (int i = 0; same && i < dst->ndim; i++)
        same = dst->shape[i] == src->shape[i];
    if (!same)
        return em_error(EMBER_ERR_INVALID_ARG, "copy: shapes differ (%d-d vs %d-d or extents)",
                        dst->ndim, src->ndim);
    return EMBER_SUCCESS;
}

/* The native stream handle for work run by `dev`, or an error when the
 * stream belongs to another device. */
static ember_status stream_for(struct ember_device *dev, ember_stream_t stream, void **native)
{
    if (stream && stream->device != dev) {
        *native = NULL; /* a stream of the other endpoint: order through it by syncing */
        return ember_stream_synchronize(stream->device, stream);
    }
    return stream_native(dev, stream, native);
}

/* What a copy may do around an open graph capture (launch/graph.c): on the
 * capturing stream only one dense copy between device memory and device or
 * pinned memory (CUDA cannot capture a copy with pageable host memory, nor
 * the synchronisations a staged copy makes); on the default stream of a
 * device that captures, nothing. */
static ember_status capture_rules(const ember_array *dst, const ember_array *src,
                                  ember_copy_dir dir, ember_stream_t stream)
{
    if (dir == EMBER_COPY_HTOH)
        return EMBER_SUCCESS;
    if (!stream) {
        ember_status st = stream_capture_check(dst->buffer->device, NULL, "copy");
        if (st == EMBER_SUCCESS && src->buffer->device != dst->buffer->device)
            st = stream_capture_check(src->buffer->device, NULL, "copy");
        return st;
    }
    if (!ember_stream_is_capturing(stream))
        return EMBER_SUCCESS;
    if (dst->buffer->kind == EMBER_MEM_HOST || src->buffer->kind == EMBER_MEM_HOST)
        return em_error(EMBER_ERR_INVALID_ARG, "a copy %s pageable host memory cannot be "
                        "captured into a graph (CUDA refuses it: such a copy is synchronous); "
                        "use pinned memory (cuda.pinned_array) for the host side",
                        dst->buffer->kind == EMBER_MEM_HOST ? "into" : "from");
    if (!same_dense_layout(dst, src) || dst->buffer->device != src->buffer->device)
        return em_error(EMBER_ERR_INVALID_ARG, "only copies between contiguous arrays of the "
                        "same layout on one device can be captured into a graph (this one "
                        "would be staged through the host, which synchronizes)");
    return EMBER_SUCCESS;
}

ember_status ember_array_copy(const ember_array *dst, const ember_array *src,
                              ember_stream_t stream)
{
    ember_status st = check_pair(dst, src);
    if (st != EMBER_SUCCESS)
        return st;
    int64_t nbytes = ember_array_nbytes(src);
    ember_copy_dir dir = direction(dst, src);
    if (nbytes == 0) {
        stats_count_copy(dir, 0);
        return EMBER_SUCCESS;
    }
    struct ember_device *ddev = dst->buffer->device, *sdev = src->buffer->device;
    if (stream && stream->device != ddev && stream->device != sdev) {
        char a[32], b[32], c[32];
        return em_error(EMBER_ERR_DEVICE_MISMATCH,
                        "copy: the stream is on %s but the arrays are on %s and %s",
                        device_label(stream->device, a, sizeof a), device_label(ddev, b, sizeof b),
                        device_label(sdev, c, sizeof c));
    }
    if ((st = capture_rules(dst, src, dir, stream)) != EMBER_SUCCESS)
        return st;
    void *dst_stream, *src_stream;
    if ((st = stream_for(ddev, stream, &dst_stream)) != EMBER_SUCCESS ||
        (st = stream_for(sdev, stream, &src_stream)) != EMBER_SUCCESS)
        return st;

    bool overlap = false;
    if (dst->buffer == src->buffer) {
        int64_t dlo, dhi, slo, shi;
        if ((st = array_span(dst, &dlo, &dhi)) != EMBER_SUCCESS ||
            (st = array_span(src, &slo, &shi)) != EMBER_SUCCESS)
            return st;
        overlap = dlo < shi && slo < dhi;
    }
    bool dense = same_dense_layout(dst, src) &&
                 (!overlap || (host_accessible(dst) && host_accessible(src)));
    if (dense) {
        /* One device copy. Run it on the device that owns device-only
         * memory (host-accessible memory is addressed by host pointer). */
        bool d_dev = !host_accessible(dst), s_dev = !host_accessible(src);
        struct ember_device *run = d_dev ? ddev : sdev;
        void *run_stream = d_dev ? dst_stream : src_stream;
        if (d_dev && s_dev && ddev != sdev) {
            st = strided_copy(dst, src, dst_stream, src_stream); /* two devices: via host */
        } else {
            /* Queued work: the pool must not reuse either side's memory
             * before it ran (strided copies below wait for themselves). */
            buffer_record_native(dst->buffer, run, run_stream);
            buffer_record_native(src->buffer, run, run_stream);
            st = raw_copy(run, dense_start(dst, d_dev), d_dev, dense_start(src, s_dev), s_dev,
                          (size_t)nbytes, run_stream);
        }
    } else {
        st = strided_copy(dst, src, dst_stream, src_stream);
    }
    if (st == EMBER_SUCCESS)
        stats_count_copy(dir, (uint64_t)nbytes);
    return st;
}

ember_status ember_buffer_memset(ember_buffer_t buf, size_t offset, uint8_t value, size_t nbytes,
                                 ember_stream_t stream)
{
    if (!buf)
        return em_error(EMBER_ERR_INVALID_ARG, "memset: NULL buffer");
    if (offset > buf->size || nbytes > buf->size - offset)
        return em_error(EMBER_ERR_OUT_OF_BOUNDS,
                        "memset: bytes [%zu, %zu + %zu) leave the buffer of %zu bytes", offset,
                        offset, nbytes, buf->size);
    struct ember_device *dev = buf->device;
    if (stream && stream->device != dev) {
        char a[32], b[32];
        return em_error(EMBER_ERR_DEVICE_MISMATCH, "memset: the stream is on %s but the memory "
                        "is on %s", device_label(stream->device, a, sizeof a),
                        device_label(dev, b, sizeof b));
    }
    if (nbytes == 0)
        return EMBER_SUCCESS;
    ember_status st;
    if (!stream && (st = stream_capture_check(dev, NULL, "memset")) != EMBER_SUCCESS)
        return st;
    void *native;
    if ((st = stream_native(dev, stream, &native)) != EMBER_SUCCESS)
        return st;
    buffer_record_native(buf, dev, native); /* the pool waits for the fill */
    return dev->iface->memset(dev->ctx, buf->device_ptr + offset, value, nbytes, native);
}
