/*
 * launch_impl.h — internal view of launch/: stream and event handles.
 *
 * It holds the queues that copies and launches are ordered on. Modules and
 * kernel launches live in module.c, whose handles are private to it;
 * specialisations and argument packing join this folder with the compiler.
 */
#ifndef EMBER_LAUNCH_IMPL_H
#define EMBER_LAUNCH_IMPL_H

#include "devices/device_impl.h"

struct ember_stream {
    struct ember_device *device; /* borrowed from the registry */
    void *native;                /* the kind's handle; owned unless borrowed */
    bool borrowed;               /* from ember_stream_wrap: not ours to destroy */
    bool capturing;              /* a graph capture is open (launch/graph.c) */
};

struct ember_event {
    struct ember_device *device;
    void *native;  /* owned */
    bool timing;   /* created with timing enabled */
    bool recorded; /* recorded at least once */
};

/* ---- stream.c -------------------------------------------------------- */

/* EMBER_ERR_INVALID_ARG, naming `what`, when work on the default stream of
 * `dev` (s NULL) or a synchronisation of `s` would meet an open capture:
 * CUDA refuses both (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT / _UNSUPPORTED). */
EM_HIDDEN ember_status stream_capture_check(ember_device_t dev, ember_stream_t s,
                                            const char *what);

/* The native handle of `s` (NULL stays NULL: default stream) after checking
 * that it belongs to `dev`. */
EM_HIDDEN ember_status stream_native(ember_device_t dev, ember_stream_t s, void **native);

#endif /* EMBER_LAUNCH_IMPL_H */
