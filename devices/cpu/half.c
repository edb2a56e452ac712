/*
 * half.c — float16 conversions for code the CPU JIT compiles.
 *
 * LLVM 14 on x86-64 keeps `half` values as 16-bit integers and, where the
 * CPU lacks F16C or the conversion is from double, calls the compiler
 * runtime: __gnu_h2f_ieee / __extendhfsf2 (half -> float),
 * __gnu_f2h_ieee / __truncsfhf2 (float -> half) and __truncdfhf2
 * (double -> half), with the half in an integer register. libgcc 12 has
 * some of these names with another ABI (the half in an SSE register), so
 * jit.c defines these in every JIT, ahead of the process's symbols.
 * Rounding is IEEE 754's: to nearest, ties to even, straight from the
 * source type (double -> half is not double -> float -> half, which
 * rounds twice).
 */
#include <stdint.h>
#include <string.h>

#include "devices/cpu/host_jit.h"

/* Rounds the binary64 `d` to binary16 bits. */
uint16_t host_double_to_half(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    uint16_t sign = (uint16_t)((b >> 48) & 0x8000);
    int exp = (int)((b >> 52) & 0x7ff);
    uint64_t man = b & 0xfffffffffffffULL;
    if (exp == 0x7ff) /* inf, nan (quiet, keeping the top payload bits) */
        return sign | 0x7c00 | (man ? (uint16_t)(0x200 | (man >> 42)) : 0);
    int e = exp - 1023 + 15; /* the half's biased exponent */
    if (e >= 31)
        return sign | 0x7c00;
    /* the significand with its implicit bit, 53 bits; shifted so that the
     * kept bits are the half's 11 (normal) or fewer (subnormal) */
    uint64_t sig = exp ? (man | (1ULL << 52)) : man;
    int shift = 42 + (e <= 0 ? 1 - e : 0); /* bits dropped */
    if (shift > 53 + 1)
        return sign; /* below half the smallest subnormal: +-0 */
    uint64_t kept = sig >> shift, rest = sig & ((1ULL << shift) - 1), halfway = 1ULL << (shift - 1);
    if (rest > halfway || (rest == halfway && (kept & 1)))
        kept++;
    /* kept holds the significand (normal: implicit bit at 10, may carry
     * into bit 11, bumping the exponent) */
    if (e <= 0)
        return sign | (uint16_t)kept; /* subnormal; a carry makes it the smallest normal */
    uint32_t bits = ((uint32_t)e << 10) + (uint32_t)(kept - (1u << 10));
    if (bits >= 0x7c00)
        return sign | 0x7c00;
    return sign | (uint16_t)bits;
}

float host_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, b;
    if (exp == 0x1f) {
        b = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        b = sign | ((exp - 15 + 127) << 23) | (man << 13);
    } else if (!man) {
        b = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        b = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

uint16_t host_float_to_half(float f)
{
    return host_double_to_half((double)f); /* float -> double is exact */
}
