/*
 * nvjitlink.c — nvJitLink (libnvJitLink.so) found and opened once, and the
 * LTO link of a kernel with foreign LTO-IR (nvjitlink.h).
 *
 * Where it looks (toolkit_lib.c, as for NVRTC): EMBER_NVJITLINK alone when
 * set; else the toolkits of $CUDA_HOME, $CUDA_PATH, /usr/local/cuda and of
 * the libNVVM ember found (for the pip wheels, nvidia/nvjitlink).
 *
 * nvJitLink (nvJitLink.h): "nvJitLinkCreate creates an instance of
 * nvJitLinkHandle with the given input options"; -arch=sm_XY is required,
 * -lto enables link-time optimisation of the LTO-IR inputs; the linked
 * cubin is read with nvJitLinkGetLinkedCubinSize / nvJitLinkGetLinkedCubin.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "devices/cuda/nvjitlink.h"
#include "devices/cuda/toolkit_lib.h"

typedef int nvJitLinkResult;                /* NVJITLINK_SUCCESS 0 */
typedef struct nvJitLink *nvJitLinkHandle;
/* nvJitLinkInputType: NONE 0, CUBIN 1, PTX 2, LTOIR 3, FATBIN 4, OBJECT 5, LIBRARY 6 */
static const int input_type[] = {
    [EMBER_LINK_CUBIN] = 1, [EMBER_LINK_PTX] = 2, [EMBER_LINK_FATBIN] = 4,
    [EMBER_LINK_OBJECT] = 5, [EMBER_LINK_LIBRARY] = 6, [EMBER_LINK_LTOIR] = 3,
};

static struct {
    nvJitLinkResult (*nvJitLinkCreate)(nvJitLinkHandle *, uint32_t, const char **);
    nvJitLinkResult (*nvJitLinkDestroy)(nvJitLinkHandle *);
    nvJitLinkResult (*nvJitLinkAddData)(nvJitLinkHandle, int, const void *, size_t,
                                        const char *);
    nvJitLinkResult (*nvJitLinkAddFile)(nvJitLinkHandle, int, const char *);
    nvJitLinkResult (*nvJitLinkComplete)(nvJitLinkHandle);
    nvJitLinkResult (*nvJitLinkGetLinkedCubinSize)(nvJitLinkHandle, size_t *);
    nvJitLinkResult (*nvJitLinkGetLinkedCubin)(nvJitLinkHandle, void *);
    nvJitLinkResult (*nvJitLinkGetErrorLogSize)(nvJitLinkHandle, size_t *);
    nvJitLinkResult (*nvJitLinkGetErrorLog)(nvJitLinkHandle, char *);
} jl;

#define JL_SYM(n) {#n, offsetof(__typeof__(jl), n)}
static const ToolkitSymbol jl_symbols[] = {
    JL_SYM(nvJitLinkCreate), JL_SYM(nvJitLinkDestroy), JL_SYM(nvJitLinkAddData),
    JL_SYM(nvJitLinkAddFile), JL_SYM(nvJitLinkComplete), JL_SYM(nvJitLinkGetLinkedCubinSize),
    JL_SYM(nvJitLinkGetLinkedCubin), JL_SYM(nvJitLinkGetErrorLogSize),
    JL_SYM(nvJitLinkGetErrorLog),
};

static ToolkitLib lib = {
    .label = "nvJitLink", .env = "EMBER_NVJITLINK", .file = "libnvJitLink.so",
    .wheel_dir = "nvjitlink", .wheel = "nvidia-nvjitlink",
    .symbols = jl_symbols, .nsymbols = EM_ARRAY_LEN(jl_symbols), .table = &jl,
};

static void find_library(void)
{
    toolkit_lib_find(&lib);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *nvjitlink_library_path(void)
{
    return lib.lib ? lib.path : NULL;
}

/* A failed step: its input named, with nvJitLink's error log. */
static ember_status step_failed(nvJitLinkHandle h, nvJitLinkResult r, const char *step,
                                const char *what)
{
    size_t n = 0;
    char *log = NULL;
    if (jl.nvJitLinkGetErrorLogSize(h, &n) == 0 && n > 1 && (log = em_malloc(n + 1))) {
        if (jl.nvJitLinkGetErrorLog(h, log) != 0)
            log[0] = '\0';
        log[n] = '\0';
    }
    ember_status st = em_error(EMBER_ERR_INVALID_ARG, "nvJitLink: %s%s%s failed (error %d)%s%s",
                               step, what ? " " : "", what ? what : "", r,
                               log && log[0] ? "\nlinker error log:\n" : "", log ? log : "");
    em_free(log);
    return st;
}

ember_status nvjitlink_link(int cc_major, int cc_minor, const char *ptx,
                            const ember_link_input *inputs, size_t ninputs, void **cubin,
                            size_t *size)
{
    *cubin = NULL;
    *size = 0;
    pthread_once(&once, find_library);
    if (!lib.lib)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", lib.error);
    char arch[32];
    snprintf(arch, sizeof arch, "-arch=sm_%d%d", cc_major, cc_minor);
    const char *opts[] = {arch, "-lto"};
    nvJitLinkHandle h = NULL;
    nvJitLinkResult r = jl.nvJitLinkCreate(&h, 2, opts);
    if (r != 0)
        return em_error(EMBER_ERR_INVALID_ARG, "nvJitLink: nvJitLinkCreate(%s -lto) failed "
                        "(error %d)", arch, r);
    ember_status st = EMBER_SUCCESS;
    if (ptx && (r = jl.nvJitLinkAddData(h, 2, ptx, strlen(ptx), "kernel.ptx")) != 0) {
        st = step_failed(h, r, "adding", "the kernel's PTX");
        goto out;
    }
    for (size_t i = 0; i < ninputs; i++) {
        const ember_link_input *in = &inputs[i];
        if ((unsigned)in->kind >= EM_ARRAY_LEN(input_type) || !input_type[in->kind]) {
            st = em_error(EMBER_ERR_INVALID_ARG, "nvJitLink: input %s has an unknown kind %d",
                          in->name, (int)in->kind);
            goto out;
        }
        r = in->data ? jl.nvJitLinkAddData(h, input_type[in->kind], in->data, in->size, in->name)
                     : jl.nvJitLinkAddFile(h, input_type[in->kind], in->name);
        if (r != 0) {
            st = step_failed(h, r, "adding", in->name);
            goto out;
        }
    }
    if ((r = jl.nvJitLinkComplete(h)) != 0) {
        st = step_failed(h, r, "linking", NULL);
        goto out;
    }
    size_t n = 0;
    if ((r = jl.nvJitLinkGetLinkedCubinSize(h, &n)) != 0 || n == 0) {
        st = step_failed(h, r, "reading the linked cubin", NULL);
        goto out;
    }
    if (!(*cubin = em_malloc(n))) {
        st = em_error(EMBER_ERR_OUT_OF_MEMORY, "nvJitLink: no memory for a %zu-byte cubin", n);
        goto out;
    }
    if ((r = jl.nvJitLinkGetLinkedCubin(h, *cubin)) != 0) {
        em_free(*cubin);
        *cubin = NULL;
        st = step_failed(h, r, "reading the linked cubin", NULL);
        goto out;
    }
    *size = n;
out:
    jl.nvJitLinkDestroy(&h);
    return st;
}
