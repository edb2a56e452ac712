/*
 * test_fault_loops.c — SQLite-style out-of-memory loops on the cpu device.
 *
 * For N = 1, 2, ... the Nth host allocation fails during a scenario. Each
 * time the scenario must return a failure status with a message (or finish
 * when the fault did not fire), leak nothing (ASan's leak checker runs at
 * exit) and leave the runtime usable: the unarmed scenario then succeeds and
 * gives the right data.
 */
#include <string.h>

#include "check.h"
#include "ember/ember_test.h"

/* Allocates device arrays, copies a host array in, through a strided view
 * and back out, with a stream and events. Returns the first failure. */
static ember_status scenario(double *out)
{
    ember_status st;
    ember_device_t cpu;
    ember_stream_t s = NULL;
    ember_event_t e0 = NULL, e1 = NULL;
    ember_buffer_t hb = NULL;
    ember_array h = {0}, d = {0}, v = {0}, back = {0};
    double host[16];
    for (int i = 0; i < 16; i++)
        host[i] = i + 0.25;
    int64_t shape[2] = {4, 4}, vshape[2] = {4, 2}, vstr[2] = {32, 16};

    if ((st = ember_device_get(EMBER_DEVICE_CPU, 0, &cpu)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_create(cpu, &s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_create(cpu, true, &e0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_create(cpu, true, &e1)) != EMBER_SUCCESS) goto out;
    if ((st = ember_buffer_wrap_host(host, sizeof host, NULL, NULL, &hb)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_init(&h, hb, EMBER_FLOAT64, 2, shape, NULL, 0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_create(&d, cpu, EMBER_MEM_DEVICE, EMBER_FLOAT64, 2, shape, 'F')) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_record(e0, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&d, &h, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_init(&v, d.buffer, EMBER_FLOAT64, 2, vshape, vstr, 0)) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_create(&back, cpu, EMBER_MEM_PINNED, EMBER_FLOAT64, 2, vshape, 'C')) != EMBER_SUCCESS) goto out;
    if ((st = ember_array_copy(&back, &v, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_event_record(e1, s)) != EMBER_SUCCESS) goto out;
    if ((st = ember_stream_synchronize(cpu, s)) != EMBER_SUCCESS) goto out;
    memcpy(out, ember_buffer_host_ptr(back.buffer), 8 * sizeof(double));
out:
    ember_array_fini(&back);
    ember_array_fini(&v);
    ember_array_fini(&d);
    ember_array_fini(&h);
    ember_buffer_release(hb);
    ember_event_destroy(e1);
    ember_event_destroy(e0);
    ember_stream_destroy(s);
    return st;
}

/* The F-ordered copy of a C 4x4 matrix, viewed as every other F "row". */
static int check_data(const double *out)
{
    /* v[i][j] = d[i, 2j] with d F-ordered: element (i, 2j) of the C matrix
     * host -> value i*4 + 2j + 0.25; v uses strides (32, 16) on the F buffer,
     * i.e. offset 32i + 16j = 8*(4i + 2j) -> d's F element index 4i + 2j,
     * which is (row (4i+2j) % 4, col (4i+2j) / 4) of the matrix. */
    int wrong = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            int k = 4 * i + 2 * j, r = k % 4, c = k / 4;
            wrong += out[i * 2 + j] != r * 4 + c + 0.25;
        }
    return wrong;
}

int main(void)
{
    double out[8];
    CHECK_OK(scenario(out));
    CHECK(check_data(out) == 0);

    int failures_seen = 0, recovered = 0;
    for (long n = 1; n < 10000; n++) {
        ember_clear_error();
        ember_fault_fail_at(EMBER_FAULT_ALLOC, n);
        ember_status st = scenario(out);
        bool fired = ember_fault_fired(EMBER_FAULT_ALLOC);
        ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
        if (!fired) {
            CHECK_OK(st);
            fprintf(stderr, "alloc loop: scenario has %ld allocation points\n", n - 1);
            break;
        }
        if (st == EMBER_SUCCESS) {
            /* The cpu device's allocation failed as out of device memory,
             * and the pool's retry recovered: the data must be right. */
            recovered++;
            CHECK(check_data(out) == 0);
        } else {
            failures_seen++;
            CHECK(ember_last_error()[0] != '\0');
        }
        /* still usable */
        memset(out, 0, sizeof out);
        CHECK_OK(scenario(out));
        CHECK(check_data(out) == 0);
    }
    CHECK(failures_seen >= 5);
    CHECK(recovered >= 2); /* the two device-memory allocations */

    /* Failing allocations during ember_init itself. */
    for (long n = 1; n < 1000; n++) {
        ember_shutdown();
        ember_fault_fail_at(EMBER_FAULT_ALLOC, n);
        ember_status st = ember_init();
        bool fired = ember_fault_fired(EMBER_FAULT_ALLOC);
        ember_fault_fail_at(EMBER_FAULT_ALLOC, 0);
        if (!fired) {
            CHECK_OK(st);
            break;
        }
        CHECK(st == EMBER_ERR_OUT_OF_MEMORY || st == EMBER_SUCCESS);
        CHECK_OK(ember_init());
        CHECK_OK(scenario(out));
    }
    ember_transfer_stats ts;
    ember_stats_get(&ts);
    CHECK(ts.bytes_allocated == 0);
    ember_shutdown();
    return check_report("test_fault_loops");
}
