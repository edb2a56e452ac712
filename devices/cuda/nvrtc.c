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
 * that opens and has every entry point wins; the error names every place
 * (the search is toolkit_lib.c, shared with nvJitLink).
 */
#include <pthread.h>
#include <string.h>

#include "devices/cuda/nvrtc.h"
#include "devices/cuda/toolkit_lib.h"

typedef int nvrtcResult; /* NVRTC_SUCCESS 0, NVRTC_ERROR_COMPILATION 6 */
typedef struct _nvrtcProgram *nvrtcProgram;

static struct {
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
static const ToolkitSymbol rtc_symbols[] = {
    RTC_SYM(nvrtcGetErrorString), RTC_SYM(nvrtcCreateProgram), RTC_SYM(nvrtcDestroyProgram),
    RTC_SYM(nvrtcCompileProgram), RTC_SYM(nvrtcGetPTXSize), RTC_SYM(nvrtcGetPTX),
    RTC_SYM(nvrtcGetProgramLogSize), RTC_SYM(nvrtcGetProgramLog),
};

static ToolkitLib lib = {
    .label = "NVRTC", .env = "EMBER_NVRTC", .file = "libnvrtc.so",
    .wheel_dir = "cuda_nvrtc", .wheel = "nvidia-cuda-nvrtc",
    .symbols = rtc_symbols, .nsymbols = EM_ARRAY_LEN(rtc_symbols), .table = &rtc,
};

static void find_library(void)
{
    toolkit_lib_find(&lib);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

const char *nvrtc_library_path(void)
{
    pthread_once(&once, find_library);
    return lib.lib ? lib.path : NULL;
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
    if (!lib.lib)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", lib.error);
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
