/*
 * toolkit_lib.c — the search of toolkit_lib.h, shared by NVRTC (nvrtc.c)
 * and nvJitLink (nvjitlink.c): the same places as libNVVM's, the first
 * library there that opens with every entry point, and a message naming
 * every place tried when none does.
 */
#include <dlfcn.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/cuda/nvvm.h"
#include "devices/cuda/toolkit_lib.h"

static bool open_file(ToolkitLib *t, const char *file)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h)
        return false;
    for (size_t i = 0; i < t->nsymbols; i++) {
        void *p = dlsym(h, t->symbols[i].name);
        if (!p) {
            dlclose(h);
            return false;
        }
        memcpy((char *)t->table + t->symbols[i].offset, &p, sizeof p);
    }
    t->lib = h;
    snprintf(t->path, sizeof t->path, "%s", file);
    return true;
}

/* The first <file>* of `dir` that opens (libnvrtc-builtins does not match). */
static bool open_dir(ToolkitLib *t, const char *dir)
{
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof pattern, "%s/%s*", dir, t->file);
    glob_t g;
    bool found = false;
    if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc && !found; i++)
            found = open_file(t, g.gl_pathv[i]);
    globfree(&g);
    return found;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool open_root(ToolkitLib *t, const char *root, char *tried, size_t cap)
{
    static const char *const subdirs[] = {"lib64", "lib", "targets/x86_64-linux/lib"};
    for (size_t i = 0; i < EM_ARRAY_LEN(subdirs); i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, subdirs[i]);
        if (is_dir(dir) && open_dir(t, dir))
            return true;
    }
    em_strappend(tried, cap, "%s%s", tried[0] ? ", " : "", root);
    return false;
}

void toolkit_lib_find(ToolkitLib *t)
{
    const char *override = getenv(t->env);
    if (override && override[0]) {
        if (!(is_dir(override) ? open_dir(t, override) : open_file(t, override)))
            snprintf(t->error, sizeof t->error, "%s not found: %s=%s is the only place tried "
                     "while it is set (%s or the directory holding it)", t->label, t->env,
                     override, t->file);
        return;
    }
    char tried[1024] = "";
    const char *vars[] = {"CUDA_HOME", "CUDA_PATH"};
    for (size_t i = 0; i < EM_ARRAY_LEN(vars); i++) {
        const char *root = getenv(vars[i]);
        if (root && root[0] && open_root(t, root, tried, sizeof tried))
            return;
    }
    if (open_root(t, "/usr/local/cuda", tried, sizeof tried))
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
        if (root[0] && open_root(t, root, tried, sizeof tried))
            return;
        /* pip wheels: nvidia/cuda_nvcc holds libNVVM, nvidia/<wheel_dir> this one */
        char *slash = strrchr(root, '/');
        if (slash) {
            snprintf(slash + 1, sizeof root - (size_t)(slash + 1 - root), "%s", t->wheel_dir);
            if (is_dir(root) && open_root(t, root, tried, sizeof tried))
                return;
        }
    }
    snprintf(t->error, sizeof t->error,
             "%s not found: looked for %s* in lib64 and lib of %s%s; install the CUDA toolkit "
             "(or the %s wheel) or set %s to %s", t->label, t->file, tried,
             nvvm ? " (including the toolkit of libNVVM)" : "", t->wheel, t->env, t->file);
}
