/*
 * nvrtc.c — NVRTC (libnvrtc.so) found and opened once, and one compilation
 * of CUDA C/C++ to PTX at a time (nvrtc.h).
 *
 * Where it looks, in order (as for libNVVM, README "libNVVM, libdevice and
 * ptxas: where ember looks"): EMBER_NVRTC alone when set (the library or
 * the directory holding it); else lib64 and lib of $CUDA_HOME, $CUDA_PATH
 * and /usr/local/cuda, then the toolkit of the libNVVM ember found
 * (<root>/nvvm/lib64/libnvvm.so → <root>/lib64; for the pip wheels, where
 * nvidia/cuda_nvcc holds libNVVM, nvidia/cuda_nvrtc). The first libnvrtc.so*
 * that opens and has every entry point wins; the error names every place.
 */
#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/cuda/nvrtc.h"
#include "devices/cuda/nvvm.h"

typedef int nvrtcResult; /* NVRTC_SUCCESS 0, NVRTC_ERROR_COMPILATION 6 */
typedef struct _nvrtcProgram *nvrtcProgram;

static struct {
    void *lib;
    char path[PATH_MAX];
    char error[2048];
    const char *(*nvrtcGetErrorString)(nvrtcResult);
    nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int,
                                      const char *const *, const char *const *);
    nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *);
    nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t *);
    nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char *);
    nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t *);
    nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char *);
} rtc;

#define RTC_SYM(n) {#n, offsetof(__typeof__(rtc), n)}
static const struct { const char *name; size_t offset; } rtc_symbols[] = {
    RTC_SYM(nvrtcGetErrorString), RTC_SYM(nvrtcCreateProgram), RTC_SYM(nvrtcDestroyProgram),
    RTC_SYM(nvrtcCompileProgram), RTC_SYM(nvrtcGetPTXSize), RTC_SYM(nvrtcGetPTX),
    RTC_SYM(nvrtcGetProgramLogSize), RTC_SYM(nvrtcGetProgramLog),
};

static bool open_file(const char *file)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h)
        return false;
    for (size_t i = 0; i < EM_ARRAY_LEN(rtc_symbols); i++) {
        void *p = dlsym(h, rtc_symbols[i].name);
        if (!p) {
            dlclose(h);
            return false;
        }
        memcpy((char *)&rtc + rtc_symbols[i].offset, &p, sizeof p);
    }
    rtc.lib = h;
    snprintf(rtc.path, sizeof rtc.path, "%s", file);
    return true;
}

/* The first libnvrtc.so* of `dir` that opens (not libnvrtc-builtins). */
static bool open_dir(const char *dir)
{
    char pattern[PATH_MAX + 16];
    snprintf(pattern, sizeof pattern, "%s/libnvrtc.so*", dir);
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
    const char *override = getenv("EMBER_NVRTC");
    if (override && override[0]) {
        struct stat st;
        bool is_dir = stat(override, &st) == 0 && S_ISDIR(st.st_mode);
        if (!(is_dir ? open_dir(override) : open_file(override)))
            snprintf(rtc.error, sizeof rtc.error, "NVRTC not found: EMBER_NVRTC=%s is the only "
                     "place tried while it is set (libnvrtc.so or the directory holding it)",
                     override);
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
    /* the toolkit holding the libNVVM ember uses: <root>/nvvm/lib64/libnvvm.so */
    int major, minor, a, b, c, d;
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
        /* pip wheels: nvidia/cuda_nvcc holds libNVVM, nvidia/cuda_nvrtc NVRTC */
        char *slash = strrchr(root, '/');
        if (slash) {
            snprintf(slash + 1, sizeof root - (size_t)(slash + 1 - root), "cuda_nvrtc");
            struct stat st;
            if (stat(root, &st) == 0 && S_ISDIR(st.st_mode) &&
                open_root(root, tried, sizeof tried))
                return;
        }
    }
    snprintf(rtc.error, sizeof rtc.error,
             "NVRTC not found: looked for libnvrtc.so* in lib64 and lib of %s%s; install the "
             "CUDA toolkit (or the nvidia-cuda-nvrtc wheel) or set EMBER_NVRTC to libnvrtc.so",
             tried, nvvm ? " (including the toolkit of libNVVM)" : "");
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

const char *nvrtc_library_path(void)
{
    pthread_once(&once, find_library);
    return rtc.lib ? rtc.path : NULL;
}

static char *take_log(nvrtcProgram prog)
{
    size_t n = 0;
    char *log = NULL;
    if (rtc.nvrtcGetProgramLogSize(prog, &n) == 0 && (log = em_malloc(n + 1))) {
        if (rtc.nvrtcGetProgramLog(prog, log) != 0)
            log[0] = '\0';
        log[n] = '\0';
        for (size_t len = strlen(log); len && (log[len - 1] == '\n' || log[len - 1] == '\0');)
            log[--len] = '\0';
    }
    return log;
}

ember_status nvrtc_compile(const char *source, const char *name, int cc_major, int cc_minor,
                           const char *include_dir, char **ptx, char **log)
{
    if (!source || !name || !ptx || !log || cc_major < 1 || cc_major > 99 || cc_minor < 0 ||
        cc_minor > 9)
        return em_error(EMBER_ERR_INVALID_ARG, "nvrtc_compile: bad argument");
    *ptx = *log = NULL;
    pthread_once(&once, find_library);
    if (!rtc.lib)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", rtc.error);
    char arch[32], inc[PATH_MAX + 8];
    snprintf(arch, sizeof arch, "-arch=compute_%d%d", cc_major, cc_minor);
    const char *opts[4] = {arch, "-rdc=true"};
    int nopts = 2;
    if (include_dir && include_dir[0]) {
        snprintf(inc, sizeof inc, "-I%s", include_dir);
        opts[nopts++] = inc;
    }
    pthread_mutex_lock(&compile_lock);
    nvrtcProgram prog = NULL;
    ember_status st = EMBER_SUCCESS;
    nvrtcResult r = rtc.nvrtcCreateProgram(&prog, source, name, 0, NULL, NULL);
    if (r != 0) {
        st = em_error(EMBER_ERR_INVALID_ARG, "NVRTC could not create a program for %s: %s",
                      name, rtc.nvrtcGetErrorString(r));
        goto out;
    }
    r = rtc.nvrtcCompileProgram(prog, nopts, opts);
    char *text = take_log(prog);
    if (r != 0) {
        st = em_error(EMBER_ERR_INVALID_ARG, "NVRTC Compilation failure whilst compiling %s:\n%s",
                      name, text ? text : rtc.nvrtcGetErrorString(r));
        em_free(text);
        goto out;
    }
    size_t n = 0;
    char *out = NULL;
    if (rtc.nvrtcGetPTXSize(prog, &n) != 0 || !(out = em_malloc(n + 1)) ||
        rtc.nvrtcGetPTX(prog, out) != 0) {
        st = em_error(out ? EMBER_ERR_INTERNAL : EMBER_ERR_OUT_OF_MEMORY,
                      "NVRTC: reading the PTX of %s failed", name);
        em_free(out);
        em_free(text);
        goto out;
    }
    out[n] = '\0';
    *ptx = out;
    *log = text ? text : em_strdup("");
out:
    if (prog)
        rtc.nvrtcDestroyProgram(&prog);
    pthread_mutex_unlock(&compile_lock);
    return st;
}
