/*
 * cuda_link.c — the cuda kind's module_link slot: a kernel's PTX linked
 * with foreign device code (cuda.declare_device's implementations: PTX,
 * cubins, fatbins, relocatable objects and their archives) by the driver's
 * linker, and the linked image loaded as the module.
 *
 * CUDA semantics (cuLinkCreate): "Creates a pending JIT linker invocation
 * ... The data passed in via cuLinkAddData and cuLinkAddFile will be
 * treated as relocatable (-rdc=true to nvcc) when linking the final cubin
 * during cuLinkComplete"; the cubin cuLinkComplete returns is "owned by
 * state, so it should be loaded before state is destroyed via
 * cuLinkDestroy". The error log buffer given to cuLinkCreate collects the
 * messages of every step; on failure they follow ember's message, with the
 * input that failed named. The driver cannot read LTO-IR: a link with an
 * .ltoir among its inputs goes to nvJitLink with -lto instead (whole: the
 * kernel's PTX and every input), which returns the cubin to load.
 */
#include <string.h>

#include "devices/cuda/cuda_impl.h"
#include "devices/cuda/nvjitlink.h"

#define LINK_LOG_BYTES 8192

static const char *kind_name(ember_link_kind k)
{
    static const char *const names[] = {"cubin", "PTX", "fatbin", "object", "library",
                                        "LTO-IR"};
    return (unsigned)k < EM_ARRAY_LEN(names) ? names[k] : "?";
}

/* The failure of `call` (on input `what`, or NULL), with the linker's log. */
static ember_status link_failed(const struct cuda_ctx *c, CUresult r, const char *call,
                                const char *what, char *log, void *written)
{
    ember_status st = cuda_check(r, call);
    size_t n = (size_t)(uintptr_t)written;
    log[n < LINK_LOG_BYTES ? n : LINK_LOG_BYTES - 1] = '\0';
    for (size_t len = strlen(log); len && (log[len - 1] == '\n' || log[len - 1] == '\r');)
        log[--len] = '\0';
    char message[1024];
    snprintf(message, sizeof message, "%s", ember_last_error());
    em_driver_error(r, cuda_error_name(r), "cuda:%d: linking%s%s: %s%s%s", c->ordinal,
                    what ? " " : "", what ? what : "", message,
                    log[0] ? "\nlinker error log:\n" : "", log);
    return st;
}

/* Links `ptx` (or nothing, when NULL) and `inputs` into *image (a copy,
 * em_malloc'd, *size bytes). */
static ember_status link_into(struct cuda_ctx *c, const char *ptx,
                              const ember_link_input *inputs, size_t ninputs, void **image,
                              size_t *size)
{
    for (size_t i = 0; i < ninputs; i++)
        if (inputs[i].kind == EMBER_LINK_LTOIR) {
            ember_status st = nvjitlink_link(c->cc_major, c->cc_minor, ptx, inputs, ninputs,
                                             image, size);
            return st == EMBER_SUCCESS ? st
                                       : em_error_prefix(st, "cuda:%d: linking: ", c->ordinal);
        }
    char *log = em_malloc(LINK_LOG_BYTES);
    if (!log)
        return em_error_prefix(EMBER_ERR_OUT_OF_MEMORY, "cuda:%d: linking: ", c->ordinal);
    log[0] = '\0';
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {log, (void *)(uintptr_t)LINK_LOG_BYTES};
    ember_status st = CUDA_CALL(cuCtxSetCurrent, c->primary);
    if (st != EMBER_SUCCESS) {
        em_free(log);
        return em_error_prefix(st, "cuda:%d: linking: ", c->ordinal);
    }
    CUlinkState state = NULL;
    CUresult r = CUDA_RESULT(cuLinkCreate, (unsigned)EM_ARRAY_LEN(opts), opts, values, &state);
    if (r != CUDA_SUCCESS) {
        st = link_failed(c, r, "cuLinkCreate", NULL, log, values[1]);
        em_free(log);
        return st;
    }
    char what[600];
    if (ptx) {
        r = CUDA_RESULT(cuLinkAddData, state, EMBER_LINK_PTX, (void *)ptx, strlen(ptx) + 1,
                        "kernel.ptx", 0, NULL, NULL);
        if (r != CUDA_SUCCESS) {
            st = link_failed(c, r, "cuLinkAddData", "the kernel's PTX", log, values[1]);
            goto out;
        }
    }
    for (size_t i = 0; i < ninputs; i++) {
        const ember_link_input *in = &inputs[i];
        snprintf(what, sizeof what, "%s %s", kind_name(in->kind), in->name);
        if (in->data)
            r = CUDA_RESULT(cuLinkAddData, state, (CUjitInputType)in->kind, (void *)in->data,
                            in->size, in->name, 0, NULL, NULL);
        else
            r = CUDA_RESULT(cuLinkAddFile, state, (CUjitInputType)in->kind, in->name, 0, NULL,
                            NULL);
        if (r != CUDA_SUCCESS) {
            st = link_failed(c, r, in->data ? "cuLinkAddData" : "cuLinkAddFile", what, log,
                             values[1]);
            goto out;
        }
    }
    void *linked = NULL;
    size_t n = 0;
    r = CUDA_RESULT(cuLinkComplete, state, &linked, &n);
    if (r != CUDA_SUCCESS) {
        st = link_failed(c, r, "cuLinkComplete", NULL, log, values[1]);
        goto out;
    }
    /* the image belongs to the link state: copied before cuLinkDestroy */
    if (!(*image = em_malloc(n ? n : 1))) {
        st = em_error_prefix(EMBER_ERR_OUT_OF_MEMORY, "cuda:%d: linking: ", c->ordinal);
        goto out;
    }
    memcpy(*image, linked, n);
    *size = n;
out:
    CUDA_RELEASE(cuLinkDestroy, state);
    em_free(log);
    return st;
}

ember_status cuda_link_image(void *ctx, const ember_link_input *inputs, size_t ninputs,
                             void **image, size_t *size)
{
    return link_into(ctx, NULL, inputs, ninputs, image, size);
}

ember_status cuda_module_link(void *ctx, const char *ptx, const ember_link_input *inputs,
                              size_t ninputs, void **module)
{
    struct cuda_ctx *c = ctx;
    void *image = NULL;
    size_t size = 0;
    ember_status st = link_into(c, ptx, inputs, ninputs, &image, &size);
    if (st != EMBER_SUCCESS)
        return st;
    CUmodule m = NULL;
    if ((st = CUDA_CALL(cuModuleLoadDataEx, &m, image, 0, NULL, NULL)) != EMBER_SUCCESS)
        em_error_prefix(st, "cuda:%d: loading the linked image: ", c->ordinal);
    else
        *module = m;
    em_free(image);
    return st;
}
