/*
 * check.h — the C tests' assertion macros.
 *
 * CHECK(expr) prints the expression, file and line and counts a failure;
 * CHECK_OK(status_expr) also prints ember's last error. A test's main()
 * returns check_report(), which is non-zero when any check failed.
 */
#ifndef EMBER_TEST_CHECK_H
#define EMBER_TEST_CHECK_H

#include <stdio.h>

#include "ember/ember.h"

static int check_failures, check_count;

#define CHECK(expr)                                                                        \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(expr)) {                                                                     \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);       \
        }                                                                                  \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        check_count++;                                                                     \
        ember_status check_st_ = (expr);                                                   \
        if (check_st_ != EMBER_SUCCESS) {                                                  \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,       \
                    ember_status_string(check_st_), ember_last_error());                   \
        }                                                                                  \
    } while (0)

#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        check_count++;                                                                     \
        ember_status check_st_ = (expr);                                                   \
        if (check_st_ != (want)) {                                                         \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__, \
                    #expr, ember_status_string(check_st_), ember_status_string(want),       \
                    ember_last_error());                                                   \
        }                                                                                  \
    } while (0)

static inline int check_report(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures != 0;
}

#endif
