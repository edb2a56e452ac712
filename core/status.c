/*
 * status.c — status names and the thread-local last-error message.
 *
 * C functions return an ember_status; the human-readable message that the
 * Python layer turns into an exception lives here, per thread, until the
 * next failing call on that thread overwrites it.
 */
#include <string.h>

#include <pthread.h>
#include <stdio.h>

#include "core.h"

#define EM_ERROR_MAX 2048

static _Thread_local char tls_message[EM_ERROR_MAX];
static _Thread_local int tls_driver_code;
static _Thread_local char tls_driver_name[64];

static const char *const status_names[EMBER_STATUS_COUNT] = {
    [EMBER_SUCCESS] = "success",
    [EMBER_ERR_INVALID_ARG] = "invalid argument",
    [EMBER_ERR_OUT_OF_MEMORY] = "out of host memory",
    [EMBER_ERR_DEVICE_OUT_OF_MEMORY] = "out of device memory",
    [EMBER_ERR_NOT_FOUND] = "not found",
    [EMBER_ERR_NOT_SUPPORTED] = "not supported",
    [EMBER_ERR_NO_DRIVER] = "no CUDA driver",
    [EMBER_ERR_DRIVER] = "CUDA driver error",
    [EMBER_ERR_DEVICE_MISMATCH] = "device mismatch",
    [EMBER_ERR_OUT_OF_BOUNDS] = "out of bounds",
    [EMBER_ERR_NOT_READY] = "not ready",
    [EMBER_ERR_SYSTEM] = "system error",
    [EMBER_ERR_INTERNAL] = "internal error",
    [EMBER_ERR_KERNEL_FAULT] = "kernel fault",
    [EMBER_ERR_INDEX] = "index out of range in a kernel",
    [EMBER_ERR_INTERRUPTED] = "interrupted",
};

const char *ember_status_string(ember_status status)
{
    if ((unsigned)status >= EMBER_STATUS_COUNT)
        return "unknown status";
    return status_names[status];
}

const char *ember_last_error(void) { return tls_message; }

int ember_last_driver_error(void) { return tls_driver_code; }

const char *ember_last_driver_error_name(void) { return tls_driver_name; }

void ember_clear_error(void)
{
    tls_message[0] = '\0';
    tls_driver_code = 0;
    tls_driver_name[0] = '\0';
}

static void set_message(const char *fmt, va_list ap)
{
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
}

ember_status em_error(ember_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    tls_driver_code = 0;
    tls_driver_name[0] = '\0';
    return status;
}

ember_status em_driver_error(int code, const char *code_name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    tls_driver_code = code;
    snprintf(tls_driver_name, sizeof tls_driver_name, "%s", code_name ? code_name : "");
    return EMBER_ERR_DRIVER;
}

ember_status em_error_prefix(ember_status status, const char *fmt, ...)
{
    char prefix[512], old[EM_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_message, sizeof old);
    size_t n = strlen(prefix);
    memcpy(tls_message, prefix, n);
    snprintf(tls_message + n, sizeof tls_message - n, "%.*s", (int)(sizeof tls_message - n - 1),
             old);
    return status;
}

/* The last kernel launched (em_note_kernel_launch). */
static pthread_mutex_t last_kernel_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_kernel[160];

void em_note_kernel_launch(const char *name)
{
    em_mutex_lock(&last_kernel_lock);
    snprintf(last_kernel, sizeof last_kernel, "%s", name ? name : "?");
    em_mutex_unlock(&last_kernel_lock);
}

void em_last_kernel_launch(char *buf, size_t cap)
{
    if (!cap)
        return;
    em_mutex_lock(&last_kernel_lock);
    snprintf(buf, cap, "%s", last_kernel);
    em_mutex_unlock(&last_kernel_lock);
}
