/*
 * nvvm.c — finding libNVVM and libdevice at run time, and compiling NVVM IR
 * to PTX with them.
 *
 * The NVVM lowering turns a kernel into NVVM IR; libNVVM (the CUDA
 * toolkit's compiler library) turns that into PTX, which the driver loads.
 * Like the driver (cuda_driver.c), libnvvm.so is opened with dlopen and its
 * entry points looked up with dlsym, so ember builds and runs where CUDA is
 * absent, and PTX can be produced where there is a toolkit but no GPU (CI
 * assembles it with ptxas). Math in kernels calls libdevice (`__nv_sinf`…:
 * NVVM rejects the llvm.* math intrinsics), whose bitcode sits next to
 * libNVVM in every toolkit layout; it is read once and added lazily to
 * every program, so that only the functions a kernel calls are linked.
 *
 * Both are looked for once per process, on the first call (pthread_once),
 * and never unloaded (RTLD_NODELETE, as for the driver): the search depends
 * only on the environment of that moment, and a failure is remembered with
 * its message. After that first call everything here is read-only, and
 * libNVVM "provides a thread-safe interface" (its API manual, 1.2), so
 * compilations, each in its own program, run in parallel without a lock.
 *
 * NVVM calls that can fail pass the EMBER_FAULT_DRIVER gate, like driver
 * calls: the fault loops then also cover a compilation that fails half-way.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/cuda/nvvm.h"

/* As long as the last-error buffer (status.c): longer messages are cut. */
#define NVVM_MSG_MAX 2048

/* The loaded library and libdevice, or why they are missing. Written only
 * by nvvm_find (under pthread_once), read-only afterwards. */
static struct {
    void *lib;                           /* dlopen handle; NULL when not found */
    char lib_path[PATH_MAX];             /* the file it was opened from */
    char lib_error[NVVM_MSG_MAX];        /* why it was not found */
    char *libdevice;                     /* libdevice.10.bc, read whole; NULL when not found */
    size_t libdevice_size;
    char libdevice_path[PATH_MAX + 64];
    char libdevice_error[NVVM_MSG_MAX];  /* why it was not found */

    nvvmGetErrorString_fn nvvmGetErrorString;
    nvvmVersion_fn nvvmVersion;
    nvvmIRVersion_fn nvvmIRVersion;
    nvvmCreateProgram_fn nvvmCreateProgram;
    nvvmDestroyProgram_fn nvvmDestroyProgram;
    nvvmAddModuleToProgram_fn nvvmAddModuleToProgram;
    nvvmLazyAddModuleToProgram_fn nvvmLazyAddModuleToProgram;
    nvvmCompileProgram_fn nvvmCompileProgram;
    nvvmVerifyProgram_fn nvvmVerifyProgram;
    nvvmGetCompiledResultSize_fn nvvmGetCompiledResultSize;
    nvvmGetCompiledResult_fn nvvmGetCompiledResult;
    nvvmGetProgramLogSize_fn nvvmGetProgramLogSize;
    nvvmGetProgramLog_fn nvvmGetProgramLog;
} nvvm;

static pthread_once_t nvvm_once = PTHREAD_ONCE_INIT;

#define SYM(name) {offsetof(__typeof__(nvvm), name), #name}

/* Every entry point ember calls; a library lacking one is not used. */
static const struct {
    size_t offset; /* of the field in `nvvm` */
    const char *symbol;
} symbols[] = {
    SYM(nvvmGetErrorString),
    SYM(nvvmVersion),
    SYM(nvvmIRVersion),
    SYM(nvvmCreateProgram),
    SYM(nvvmDestroyProgram),
    SYM(nvvmAddModuleToProgram),
    SYM(nvvmLazyAddModuleToProgram),
    SYM(nvvmCompileProgram),
    SYM(nvvmVerifyProgram), /* not called: nvvmCompileProgram verifies as well */
    SYM(nvvmGetCompiledResultSize),
    SYM(nvvmGetCompiledResult),
    SYM(nvvmGetProgramLogSize),
    SYM(nvvmGetProgramLog),
};

/* ------------------------------------------------------------------------ */
/* Finding libNVVM                                                          */
/* ------------------------------------------------------------------------ */

/* Where libnvvm.so* sits below a CUDA root: the toolkit's nvvm/lib64 (and
 * nvvm/lib on some distributions), the CUDA 13 wheels' lib/. */
static const char *const lib_subdirs[] = {"nvvm/lib64", "nvvm/lib", "lib64", "lib"};

/* The CUDA roots inside a site-packages directory that NVIDIA's pip wheels
 * create: nvidia-nvvm for CUDA 13 (nvidia/cu13/lib/libnvvm.so.4) and
 * nvidia-cuda-nvcc-cu12 for CUDA 12 (nvidia/cuda_nvcc/nvvm/lib64/). */
static const char *const wheel_roots[] = {"nvidia/cu13", "nvidia/cuda_nvcc"};

/* Site-packages directories are looked for without Python: the one holding
 * this code (the extension lives in <site-packages>/ember/), each entry of
 * PYTHONPATH, those of an active virtualenv or conda environment, the
 * user's, and the system's. Patterns may hold glob wildcards. */
static const char *const system_site_patterns[] = {
    "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages",
    "/usr/lib/python3/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/lib64/python3*/site-packages",
};

#define MAX_SITE_DIRS 24

/* What the search met, for the message when nothing is found. */
typedef struct {
    char detail[512]; /* the first reason a file that exists did not load */
} Search;

/* The site-packages directories searched: static rather than on the stack
 * (96 KiB), and written only by the search under pthread_once. */
static char site_dirs[MAX_SITE_DIRS][PATH_MAX];
static int nsite_dirs;

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Opens `file` as libNVVM and resolves every entry point into `nvvm`. On
 * failure records why in s->detail (the first such reason) and returns
 * false. */
static bool open_library(const char *file, Search *s)
{
    dlerror();
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        const char *e = dlerror();
        if (!s->detail[0])
            snprintf(s->detail, sizeof s->detail, "%s", e ? e : "dlopen failed");
        return false;
    }
    for (size_t i = 0; i < EM_ARRAY_LEN(symbols); i++) {
        void *p = dlsym(h, symbols[i].symbol);
        if (!p) {
            if (!s->detail[0])
                snprintf(s->detail, sizeof s->detail,
                         "%s lacks the entry point %s: it is not libNVVM, or one too old",
                         file, symbols[i].symbol);
            dlclose(h);
            return false;
        }
        /* A data pointer from dlsym converts to a function pointer (POSIX);
         * copy the bytes to say so without a cast warning. */
        memcpy((char *)&nvvm + symbols[i].offset, &p, sizeof p);
    }
    nvvm.lib = h;
    snprintf(nvvm.lib_path, sizeof nvvm.lib_path, "%s", file);
    return true;
}

/* Opens the first libnvvm.so* in `dir` that loads: libnvvm.so before the
 * versioned names (glob sorts them). */
static bool open_in_dir(const char *dir, Search *s)
{
    char pattern[PATH_MAX + 16];
    snprintf(pattern, sizeof pattern, "%s/libnvvm.so*", dir);
    glob_t g;
    bool found = false;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !found; i++)
            if (is_file(g.gl_pathv[i]))
                found = open_library(g.gl_pathv[i], s);
    }
    globfree(&g);
    return found;
}

static bool open_in_root(const char *root, Search *s)
{
    for (size_t i = 0; i < EM_ARRAY_LEN(lib_subdirs); i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, lib_subdirs[i]);
        if (is_dir(dir) && open_in_dir(dir, s))
            return true;
    }
    return false;
}

/* Adds the existing directory `dir` to the site-packages list once. */
static void add_site_dir(const char *dir)
{
    char real[PATH_MAX];
    if (!dir[0] || !realpath(dir, real) || !is_dir(real) || nsite_dirs >= MAX_SITE_DIRS)
        return;
    for (int i = 0; i < nsite_dirs; i++)
        if (strcmp(site_dirs[i], real) == 0)
            return;
    memcpy(site_dirs[nsite_dirs++], real, sizeof real);
}

static void add_site_pattern(const char *pattern)
{
    glob_t g;
    if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            add_site_dir(g.gl_pathv[i]);
    globfree(&g);
}

/* `<prefix>/lib/python3*\/site-packages` for an environment variable naming
 * a Python prefix (VIRTUAL_ENV, CONDA_PREFIX). */
static void add_prefix_sites(const char *env)
{
    const char *prefix = getenv(env);
    if (!prefix || !prefix[0])
        return;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s/lib/python3*/site-packages", prefix);
    add_site_pattern(pattern);
}

static void collect_site_dirs(void)
{
    /* The directory above the one holding this code. */
    Dl_info info;
    if (dladdr((void *)&nvvm_compile, &info) && info.dli_fname) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(dir, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
        if (strchr(info.dli_fname, '/'))
            add_site_dir(dir);
    }
    const char *pythonpath = getenv("PYTHONPATH");
    if (pythonpath) {
        char entry[PATH_MAX];
        for (const char *p = pythonpath; *p;) {
            size_t n = strcspn(p, ":");
            snprintf(entry, sizeof entry, "%.*s", (int)n, p);
            add_site_dir(entry);
            p += n + (p[n] == ':');
        }
    }
    add_prefix_sites("VIRTUAL_ENV");
    add_prefix_sites("CONDA_PREFIX");
    const char *home = getenv("HOME");
    if (home && home[0]) {
        char pattern[PATH_MAX];
        snprintf(pattern, sizeof pattern, "%s/.local/lib/python3*/site-packages", home);
        add_site_pattern(pattern);
    }
    for (size_t i = 0; i < EM_ARRAY_LEN(system_site_patterns); i++)
        add_site_pattern(system_site_patterns[i]);
}

/* EMBER_NVVM, when set, is the only place tried: the libnvvm.so file
 * itself, the directory holding it, or a CUDA root. */
static void find_library_override(const char *place)
{
    Search s = {0};
    if (is_dir(place) ? open_in_dir(place, &s) || open_in_root(place, &s)
                      : open_library(place, &s))
        return;
    snprintf(nvvm.lib_error, sizeof nvvm.lib_error,
             "libNVVM not found: EMBER_NVVM=%s is the only place tried while it is set "
             "(it names libnvvm.so, the directory holding it, or a CUDA root with it in "
             "nvvm/lib64, nvvm/lib, lib64 or lib)",
             place);
    if (s.detail[0])
        em_strappend(nvvm.lib_error, sizeof nvvm.lib_error, "; %s", s.detail);
    else if (is_dir(place))
        em_strappend(nvvm.lib_error, sizeof nvvm.lib_error, "; no libnvvm.so* there");
}

/* The search order (DESIGN.md): EMBER_NVVM alone when set; else the CUDA
 * roots $CUDA_HOME, $CUDA_PATH and /usr/local/cuda, then the nvidia pip
 * wheels in every site-packages directory found. */
static void find_library(void)
{
    const char *override = getenv("EMBER_NVVM");
    if (override && override[0]) {
        find_library_override(override);
        return;
    }
    Search s = {0};
    char roots[1024] = "", unset[64] = "";
    static const char *const root_vars[] = {"CUDA_HOME", "CUDA_PATH"};
    for (size_t i = 0; i < EM_ARRAY_LEN(root_vars); i++) {
        const char *root = getenv(root_vars[i]);
        if (!root || !root[0]) {
            em_strappend(unset, sizeof unset, "%s%s", unset[0] ? " and " : "", root_vars[i]);
            continue;
        }
        em_strappend(roots, sizeof roots, "%s=%s, ", root_vars[i], root);
        if (open_in_root(root, &s))
            return;
    }
    em_strappend(roots, sizeof roots, "/usr/local/cuda");
    if (open_in_root("/usr/local/cuda", &s))
        return;

    collect_site_dirs();
    for (int i = 0; i < nsite_dirs; i++) {
        for (size_t w = 0; w < EM_ARRAY_LEN(wheel_roots); w++) {
            char root[PATH_MAX + 32] = "";
            em_strappend(root, sizeof root, "%s/%s", site_dirs[i], wheel_roots[w]);
            if (is_dir(root) && open_in_root(root, &s))
                return;
        }
    }

    char *msg = nvvm.lib_error;
    size_t cap = sizeof nvvm.lib_error;
    snprintf(msg, cap,
             "libNVVM not found: looked for libnvvm.so* in nvvm/lib64, nvvm/lib, lib64 and lib "
             "of %s",
             roots);
    if (unset[0])
        em_strappend(msg, cap, " (%s not set)", unset);
    em_strappend(msg, cap, ", and of the nvidia pip wheels (nvidia/cu13, nvidia/cuda_nvcc) in ");
    if (nsite_dirs == 0)
        em_strappend(msg, cap, "site-packages (none found)");
    for (int i = 0; i < nsite_dirs; i++)
        em_strappend(msg, cap, "%s%s", i ? ", " : "", site_dirs[i]);
    if (s.detail[0])
        em_strappend(msg, cap, "; %s", s.detail);
    em_strappend(msg, cap,
                 "; install the CUDA toolkit or the nvidia-nvvm wheel, or set EMBER_NVVM to "
                 "libnvvm.so or its CUDA root");
}

/* ------------------------------------------------------------------------ */
/* Finding libdevice                                                        */
/* ------------------------------------------------------------------------ */

/* Reads `path` whole. The buffer is malloc'd, not em_malloc'd: it is read
 * once under pthread_once and kept for the life of the process, so an
 * injected allocation failure here would stick for good. */
static bool read_libdevice(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = false;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) {
        char *data = malloc((size_t)st.st_size);
        if (data && fread(data, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
            nvvm.libdevice = data;
            nvvm.libdevice_size = (size_t)st.st_size;
            snprintf(nvvm.libdevice_path, sizeof nvvm.libdevice_path, "%s", path);
            ok = true;
        } else {
            free(data);
        }
    }
    fclose(f);
    return ok;
}

/* libdevice ships next to libNVVM: <root>/nvvm/libdevice/libdevice.10.bc
 * in every layout, with libNVVM in <root>/nvvm/lib64 (toolkit, CUDA 12
 * wheel) or <root>/lib (CUDA 13 wheel). So each of the three directories
 * above the library is tried as <root> and as <root>/nvvm. */
static void find_libdevice(void)
{
    char tried[1200] = "", dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", nvvm.lib_path);
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        *slash = '\0';
        static const char *const below[] = {"nvvm/libdevice", "libdevice"};
        for (size_t i = 0; i < EM_ARRAY_LEN(below); i++) {
            char path[PATH_MAX + 64];
            snprintf(path, sizeof path, "%s/%s/libdevice.10.bc", dir, below[i]);
            em_strappend(tried, sizeof tried, "%s%s", tried[0] ? ", " : "", path);
            if (is_file(path) && read_libdevice(path))
                return;
        }
    }
    nvvm.libdevice_error[0] = '\0';
    em_strappend(nvvm.libdevice_error, sizeof nvvm.libdevice_error,
                 "libdevice not found next to libNVVM %s (looked in: %s); it ships with "
                 "libNVVM in the CUDA toolkit and in the nvidia-nvvm wheel",
                 nvvm.lib_path, tried);
}

static void nvvm_find(void)
{
    find_library();
    if (nvvm.lib)
        find_libdevice();
    else
        snprintf(nvvm.libdevice_error, sizeof nvvm.libdevice_error, "%s", nvvm.lib_error);
}

/* Looks for libNVVM and libdevice once, inside the fork gate (core/fork.c):
 * a fork during the search would leave the child's pthread_once stuck. */
static void find_once(void)
{
    em_fork_enter();
    pthread_once(&nvvm_once, nvvm_find);
    em_fork_leave();
}

/* EMBER_SUCCESS when libNVVM (and libdevice, when `libdevice` is true) were
 * found; else EMBER_ERR_NO_DRIVER with the reason. */
static ember_status nvvm_ready(bool libdevice)
{
    find_once();
    if (!nvvm.lib)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", nvvm.lib_error);
    if (libdevice && !nvvm.libdevice)
        return em_error(EMBER_ERR_NO_DRIVER, "%s", nvvm.libdevice_error);
    return EMBER_SUCCESS;
}

const char *nvvm_library_path(void)
{
    find_once();
    return nvvm.lib ? nvvm.lib_path : NULL;
}

const char *nvvm_libdevice_path(void)
{
    find_once();
    return nvvm.libdevice ? nvvm.libdevice_path : NULL;
}

ember_status nvvm_version(int *major, int *minor, int *ir_major, int *ir_minor, int *dbg_major,
                          int *dbg_minor)
{
    ember_status s = nvvm_ready(false);
    if (s != EMBER_SUCCESS)
        return s;
    int v[6] = {0};
    if (nvvm.nvvmVersion(&v[0], &v[1]) != NVVM_SUCCESS ||
        nvvm.nvvmIRVersion(&v[2], &v[3], &v[4], &v[5]) != NVVM_SUCCESS)
        return em_error(EMBER_ERR_INTERNAL, "libNVVM %s did not report its version",
                        nvvm.lib_path);
    int *out[6] = {major, minor, ir_major, ir_minor, dbg_major, dbg_minor};
    for (int i = 0; i < 6; i++)
        if (out[i])
            *out[i] = v[i];
    return EMBER_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Compiling                                                                */
/* ------------------------------------------------------------------------ */

/* An NVVM call that can fail, behind the fault gate: an injected failure
 * reads as NVVM_ERROR_OUT_OF_MEMORY and libNVVM is not called. */
#define NVVM_CALL(fn, ...)                                                                 \
    (fault_hit(EMBER_FAULT_DRIVER) ? (nvvmResult)NVVM_ERROR_OUT_OF_MEMORY                   \
                                   : nvvm.fn(__VA_ARGS__))

static const char *const result_names[] = {
    [NVVM_SUCCESS] = "NVVM_SUCCESS",
    [NVVM_ERROR_OUT_OF_MEMORY] = "NVVM_ERROR_OUT_OF_MEMORY",
    [NVVM_ERROR_PROGRAM_CREATION_FAILURE] = "NVVM_ERROR_PROGRAM_CREATION_FAILURE",
    [NVVM_ERROR_IR_VERSION_MISMATCH] = "NVVM_ERROR_IR_VERSION_MISMATCH",
    [NVVM_ERROR_INVALID_INPUT] = "NVVM_ERROR_INVALID_INPUT",
    [NVVM_ERROR_INVALID_PROGRAM] = "NVVM_ERROR_INVALID_PROGRAM",
    [NVVM_ERROR_INVALID_IR] = "NVVM_ERROR_INVALID_IR",
    [NVVM_ERROR_INVALID_OPTION] = "NVVM_ERROR_INVALID_OPTION",
    [NVVM_ERROR_NO_MODULE_IN_PROGRAM] = "NVVM_ERROR_NO_MODULE_IN_PROGRAM",
    [NVVM_ERROR_COMPILATION] = "NVVM_ERROR_COMPILATION",
    [NVVM_ERROR_CANCELLED] = "NVVM_ERROR_CANCELLED",
};

static const char *result_name(nvvmResult r)
{
    if (r >= 0 && (size_t)r < EM_ARRAY_LEN(result_names) && result_names[r])
        return result_names[r];
    return "NVVM_ERROR_UNKNOWN";
}

/* Appends NVVM's log for `prog`, if any, to `msg`, trailing blank lines dropped.
 * Reading the log is not a fault site: it describes a failure that already
 * happened. */
static void append_log(char *msg, size_t cap, nvvmProgram prog)
{
    size_t n = 0;
    if (!prog || nvvm.nvvmGetProgramLogSize(prog, &n) != NVVM_SUCCESS || n <= 1)
        return; /* calls other than compile and verify leave none */
    char *log = malloc(n + 1); /* not em_malloc: the message being built is the error */
    if (!log || nvvm.nvvmGetProgramLog(prog, log) != NVVM_SUCCESS) {
        free(log);
        em_strappend(msg, cap, " (NVVM's log could not be read)");
        return;
    }
    log[n] = '\0';
    size_t len = strlen(log);
    while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' ' || log[len - 1] == '\r'))
        log[--len] = '\0';
    em_strappend(msg, cap, ":\n%s", log);
    free(log);
}

/* Turns a failed NVVM call into a status. libNVVM semantics (nvvm.h): the
 * program log holds the diagnostics of nvvmCompileProgram and
 * nvvmVerifyProgram; the other calls only return a code. Rejected IR or
 * options are the caller's (EMBER_ERR_INVALID_ARG); NVVM out of memory is
 * host memory; anything else means ember called NVVM wrongly. */
static ember_status nvvm_failed(nvvmResult r, const char *call, nvvmProgram prog,
                                const char *options)
{
    char msg[NVVM_MSG_MAX] = "";
    ember_status status;
    switch (r) {
    case NVVM_ERROR_OUT_OF_MEMORY:
        return em_error(EMBER_ERR_OUT_OF_MEMORY,
                        "libNVVM ran out of host memory: %s returned %s (%d)", call,
                        result_name(r), r);
    case NVVM_ERROR_INVALID_OPTION:
        status = EMBER_ERR_INVALID_ARG;
        em_strappend(msg, sizeof msg, "NVVM rejected the options %s", options);
        break;
    case NVVM_ERROR_IR_VERSION_MISMATCH:
    case NVVM_ERROR_INVALID_INPUT:
    case NVVM_ERROR_INVALID_IR:
    case NVVM_ERROR_COMPILATION:
    case NVVM_ERROR_NO_MODULE_IN_PROGRAM:
        status = EMBER_ERR_INVALID_ARG;
        em_strappend(msg, sizeof msg, "NVVM rejected the IR");
        break;
    default: {
        status = EMBER_ERR_INTERNAL;
        const char *text = nvvm.nvvmGetErrorString(r);
        em_strappend(msg, sizeof msg, "libNVVM failed (%s)", text ? text : "no description");
        break;
    }
    }
    em_strappend(msg, sizeof msg, ": %s returned %s (%d)", call, result_name(r), r);
    append_log(msg, sizeof msg, prog);
    return em_error(status, "%s", msg);
}

/* The libNVVM options for `opt` (nvvm.h, nvvmCompileProgram): -arch,
 * -opt, and the float-semantics switches -ftz, -prec-div, -prec-sqrt and
 * -fma spelled out either way so that NVVM's defaults never decide. */
static int build_options(const NvvmOptions *opt, char arch[32], char level[16],
                         const char *argv[16])
{
    int argc = 0;
    snprintf(arch, 32, "-arch=compute_%d%d", opt->cc_major, opt->cc_minor);
    snprintf(level, 16, "-opt=%d", opt->opt_level);
    argv[argc++] = arch;
    argv[argc++] = level;
    argv[argc++] = opt->fastmath ? "-ftz=1" : "-ftz=0";
    argv[argc++] = opt->fastmath ? "-prec-div=0" : "-prec-div=1";
    argv[argc++] = opt->fastmath ? "-prec-sqrt=0" : "-prec-sqrt=1";
    argv[argc++] = "-fma=1";
    if (opt->lineinfo)
        argv[argc++] = "-generate-line-info";
    if (opt->debug)
        argv[argc++] = "-g";
    return argc;
}

static ember_status check_options(const NvvmOptions *opt)
{
    if (opt->cc_major < 1 || opt->cc_major > 99 || opt->cc_minor < 0 || opt->cc_minor > 9)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "nvvm_compile: compute capability %d.%d is not one (major 1..99, "
                        "minor 0..9)",
                        opt->cc_major, opt->cc_minor);
    /* nvvm.h documents -opt=0 (no optimisation) and -opt=3 (the default). */
    if (opt->opt_level != 0 && opt->opt_level != 3)
        return em_error(EMBER_ERR_INVALID_ARG, "nvvm_compile: opt_level must be 0 or 3, not %d",
                        opt->opt_level);
    /* nvvm.h: "Full debug support is only valid with '-opt=0'". */
    if (opt->debug && opt->opt_level != 0)
        return em_error(EMBER_ERR_INVALID_ARG,
                        "nvvm_compile: debug info (-g) needs opt_level 0, not %d",
                        opt->opt_level);
    return EMBER_SUCCESS;
}

ember_status nvvm_compile(const void *ir, size_t size, const NvvmOptions *opt, char **ptx)
{
    NvvmModule m = {ir, size, "ember_module"};
    return nvvm_compile_modules(&m, 1, opt, ptx);
}

static ember_status compile_in_gate(const NvvmModule *mods, int nmods, const NvvmOptions *opt,
                                    char **ptx);

/* libNVVM's state is used inside the fork gate (core/fork.c). */
ember_status nvvm_compile_modules(const NvvmModule *mods, int nmods, const NvvmOptions *opt,
                                  char **ptx)
{
    em_fork_enter();
    ember_status st = compile_in_gate(mods, nmods, opt, ptx);
    em_fork_leave();
    return st;
}

static ember_status compile_in_gate(const NvvmModule *mods, int nmods, const NvvmOptions *opt,
                                    char **ptx)
{
    if (!ptx)
        return em_error(EMBER_ERR_INVALID_ARG, "nvvm_compile: ptx is NULL");
    *ptx = NULL;
    if (!mods || nmods < 1 || !opt)
        return em_error(EMBER_ERR_INVALID_ARG, "nvvm_compile: no IR or no options");
    for (int i = 0; i < nmods; i++)
        if (!mods[i].ir || mods[i].size == 0)
            return em_error(EMBER_ERR_INVALID_ARG, "nvvm_compile: no IR (module %d is empty)", i);
    ember_status s = check_options(opt);
    if (s != EMBER_SUCCESS)
        return s;
    s = nvvm_ready(true);
    if (s != EMBER_SUCCESS)
        return s;

    char arch[32], level[16], joined[256] = "";
    const char *argv[16];
    int argc = build_options(opt, arch, level, argv);
    for (int i = 0; i < argc; i++)
        em_strappend(joined, sizeof joined, "%s%s", i ? " " : "", argv[i]);

    nvvmProgram prog = NULL;
    nvvmResult r = NVVM_CALL(nvvmCreateProgram, &prog);
    if (r != NVVM_SUCCESS)
        return nvvm_failed(r, "nvvmCreateProgram", NULL, joined);
    char *out = NULL;
    for (int i = 0; i < nmods; i++) {
        r = NVVM_CALL(nvvmAddModuleToProgram, prog, mods[i].ir, mods[i].size,
                      mods[i].name ? mods[i].name : "ember_module");
        if (r != NVVM_SUCCESS) {
            s = nvvm_failed(r, "nvvmAddModuleToProgram", prog, joined);
            goto done;
        }
    }
    r = NVVM_CALL(nvvmLazyAddModuleToProgram, prog, nvvm.libdevice, nvvm.libdevice_size,
                  "libdevice.10.bc");
    if (r != NVVM_SUCCESS) {
        s = nvvm_failed(r, "nvvmLazyAddModuleToProgram(libdevice)", prog, joined);
        goto done;
    }
    r = NVVM_CALL(nvvmCompileProgram, prog, argc, argv);
    if (r != NVVM_SUCCESS) {
        s = nvvm_failed(r, "nvvmCompileProgram", prog, joined);
        goto done;
    }
    size_t n = 0;
    r = NVVM_CALL(nvvmGetCompiledResultSize, prog, &n);
    if (r != NVVM_SUCCESS) {
        s = nvvm_failed(r, "nvvmGetCompiledResultSize", prog, joined);
        goto done;
    }
    out = em_malloc(n + 1);
    if (!out) {
        s = EMBER_ERR_OUT_OF_MEMORY;
        goto done;
    }
    r = NVVM_CALL(nvvmGetCompiledResult, prog, out);
    if (r != NVVM_SUCCESS) {
        s = nvvm_failed(r, "nvvmGetCompiledResult", prog, joined);
        em_free(out);
        out = NULL;
        goto done;
    }
    out[n] = '\0'; /* the size counts NVVM's NUL; this one guards a result without it */
    *ptx = out;
done:
    nvvm.nvvmDestroyProgram(&prog); /* a release: never a fault site */
    return s;
}
