/*
 * nvjitlink.h — link-time optimisation of foreign LTO-IR (.ltoir files of
 * link=) with nvJitLink, opened at run time like libNVVM and NVRTC.
 *
 * The driver's cuLink* cannot read LTO-IR: a kernel whose link= holds an
 * .ltoir is linked by nvJitLink instead, its PTX and every other input with
 * -lto, into one cubin that cuModuleLoadDataEx loads. The prototypes are
 * our own copies of the part of nvJitLink.h ember calls (CUDA 12/13).
 */
#ifndef EMBER_NVJITLINK_H
#define EMBER_NVJITLINK_H

#include "core/core.h"
#include "ember/ember.h"

/* Links `ptx` (NUL-terminated, or NULL) and `inputs` for sm_<cc_major><cc_minor>
 * with -lto into *cubin (em_malloc'd, *size bytes; the caller's to em_free).
 * An input with data is added from memory, else from the file at its name.
 * Errors: EMBER_ERR_NO_DRIVER when libnvJitLink cannot be found (every place
 * tried is named); EMBER_ERR_INVALID_ARG when a step fails, with the input
 * named and nvJitLink's error log. */
EM_HIDDEN ember_status nvjitlink_link(int cc_major, int cc_minor, const char *ptx,
                                      const ember_link_input *inputs, size_t ninputs,
                                      void **cubin, size_t *size);

/* The file libnvJitLink was loaded from, or NULL before a successful search. */
EM_HIDDEN const char *nvjitlink_library_path(void);

#endif /* EMBER_NVJITLINK_H */
