/*
 * static_compat.c — glibc functions that LLVM's static libraries (and a
 * static libstdc++) reach for, defined here so libember.so built with
 * EMBER_LLVM_STATIC loads on older glibc.
 *
 * Debian 12's libLLVMSupport.a (Process::GetRandomNumber) and libstdc++.a
 * (std::random_device) call arc4random, new in glibc 2.36; without this file
 * the library needs GLIBC_2.36 and does not load on Ubuntu 22.04 (2.35) or
 * RHEL 9 (2.34). Linked only into that build, with hidden visibility, so
 * the references inside libember bind here and nothing is exported.
 */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

__attribute__((visibility("hidden"))) uint32_t arc4random(void);

/* A uniformly random 32-bit value: getrandom (glibc 2.25), else the clock
 * mixed by splitmix64 (LLVM uses it only for seeds and temp-file names). */
uint32_t arc4random(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)(z ^ (z >> 31));
}
