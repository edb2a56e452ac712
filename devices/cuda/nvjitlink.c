/*
 * nvjitlink.c — nvJitLink (libnvJitLink.so) found and opened once, and the
 * LTO link of a kernel with foreign LTO-IR (nvjitlink.h).
 *
 * Where it looks, in order: EMBER_NVJITLINK alone when set (the library or
 * the directory holding it); else lib64 and lib of $CUDA_HOME, $CUDA_PATH,
 * /usr/local/cuda, and of the toolkit of the libNVVM ember found (and, for
 * the pip wheels, nvidia/nvjitlink beside its nvidia/cuda_nvcc).
 *
 * nvJitLink (nvJitLink.h): "nvJitLinkCreate creates an instance of
 * nvJitLinkHandle with the given input options"; -arch=sm_XY is required,
 * -lto enables link-time optimisation of the LTO-IR inputs; the linked
 * cubin is read with nvJitLinkGetLinkedCubinSize / nvJitLinkGetLinkedCubin.
 */
#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/cuda/nvjitlink.h"
#include "devices/cuda/nvvm.h"

typedef int nvJitLinkResult;                /* NVJITLINK_SUCCESS 0 */
typedef struct nvJitLink *nvJitLinkHandle;
/* nvJitLinkInputType: NONE 0, CUBIN 1, PTX 2, LTOIR 3, FATBIN 4, OBJECT 5, LIBRARY 6 */
static const int input_type[] = {
    [EMBER_LINK_CUBIN] = 1, [EMBER_LINK_PTX] = 2, [EMBER_LINK_FATBIN] = 4,
    [EMBER_LINK_OBJECT] = 5, [EMBER_LINK_LIBRARY] = 6, [EMBER_LINK_LTOIR] = 3,
};

static struct {
    void *lib;
    char path[PATH_MAX];
    char error[2048];
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
static const struct { const char *name; size_t offset; } jl_symbols[] = {
    JL_SYM(nvJitLinkCreate), JL_SYM(nvJitLinkDestroy), JL_SYM(nvJitLinkAddData),
    JL_SYM(nvJitLinkAddFile), JL_SYM(nvJitLinkComplete), JL_SYM(nvJitLinkGetLinkedCubinSize),
    JL_SYM(nvJitLinkGetLinkedCubin), JL_SYM(nvJitLinkGetErrorLogSize),
    JL_SYM(nvJitLinkGetErrorLog),
};

static bool open_file(const char *file)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h)
        return false;
    for (size_t i = 0; i < EM_ARRAY_LEN(jl_symbols); i++) {
        void *p = dlsym(h, jl_symbols[i].name);
        if (!p) {
            dlclose(h);
            return false;
        }
        memcpy((char *)&jl + jl_symbols[i].offset, &p, sizeof p);
    }
    jl.lib = h;
    snprintf(jl.path, sizeof jl.path, "%s", file);
    return true;
}

static bool open_dir(const char *dir)
{
    char pattern[PATH_MAX + 24];
    snprintf(pattern, sizeof pattern, "%s/libnvJitLink.so*", dir);
    glob_t g;
    bool found = false;
    if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc && !found; i++)
            found = open_file(g.gl_pathv[i]);
    globfree(&g);
    return found;
}

static bool open_root(const char *root, char *tried, size_t cap)
{
    static const char *const subdirs[] = {"lib64", "lib", "targets/x86_64-linux/lib"};
    for (size_t i = 0; i < EM_ARRAY_LEN(subdirs); i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, subdirs[i]);
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && open_dir(dir))
            return true;
    }
    em_strappend(tried, cap, "%s%s", tried[0] ? ", " : "", root);
    return false;
}

static void find_library(void)
{
    const char *override = getenv("EMBER_NVJITLINK");
    if (override && override[0]) {
        struct stat st;
        bool is_dir = stat(override, &st) == 0 && S_ISDIR(st.st_mode);
        if (!(is_dir ? open_dir(override) : open_file(override)))
            snprintf(jl.error, sizeof jl.error, "nvJitLink not found: EMBER_NVJITLINK=%s is "
                     "the only place tried while it is set (libnvJitLink.so or the directory "
                     "holding it)", override);
        return;
    }
    char tried[1024] = "";
    const char *vars[] = {"CUDA_HOME", "CUDA_PATH"};
    for (size_t i = 0; i < EM_ARRAY_LEN(vars); i++) {
        const char *root = getenv(vars[i]);
        if (root && root[0] && open_root(root, tried, sizeof tried))
            return;
    }
    if (open_root("/usr/local/cuda", tried, sizeof tried))
        return;
    int major, minor, a, b, c, d; /* the toolkit of libNVVM: <root>/nvvm/lib64/libnvvm.so */
    const char *nvvm = nvvm_version(&major, &minor, &a, &b, &c, &d) == EMBER_SUCCESS
                           ? nvvm_library_path() : NULL;
    if (nvvm) {
        char root[PATH_MAX];
        snprintf(root, sizeof root, "%s", nvvm);
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(root, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
        if (root[0] && open_root(root, tried, sizeof tried))
            return;
        char *slash = strrchr(root, '/'); /* pip wheels: nvidia/nvjitlink */
        if (slash) {
            snprintf(slash + 1, sizeof root - (size_t)(slash + 1 - root), "nvjitlink");
            struct stat st;
            if (stat(root, &st) == 0 && S_ISDIR(st.st_mode) &&
                open_root(root, tried, sizeof tried))
                return;
        }
    }
    snprintf(jl.error, sizeof jl.error,
             "nvJitLink not found: looked for libnvJitLink.so* in lib64 and lib of %s%s; "
             "install the CUDA toolkit (or the nvidia-nvjitlink wheel) or set EMBER_NVJITLINK "
             "to libnvJitLink.so", tried, nvvm ? " (including the toolkit of libNVVM)" : "");
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *nvjitlink_library_path(void)
{
    return jl.lib ? jl.path : NULL;
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
    if (!jl.lib)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", jl.error);
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
