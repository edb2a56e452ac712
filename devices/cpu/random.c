/*
 * random.c — np.random for ember.jit functions: one Mersenne Twister
 * (MT19937) per thread, producing the stream of NumPy's legacy
 * RandomState, so that `np.random.seed(s)` followed by `np.random.random()`
 * (or uniform, normal, randint) in a jitted function gives what
 * `np.random.RandomState(s)` gives in Python (numba makes the same promise
 * for its generator). The state is thread-local: jitted functions run on
 * the calling thread, and two threads never share a stream.
 *
 * The JIT-compiled code calls these functions through their addresses
 * (devices/cpu/lower_jit.c), so they need no exported symbol. It looks the thread's
 * generator up once per call of the jitted function (host_random_state)
 * and passes it to every draw: a thread-local access from a dlopen'ed
 * library goes through __tls_get_addr, which would cost as much as the
 * draw itself. A thread that never seeds starts from a seed taken from the
 * clock and the thread's address.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "devices/cpu/host_jit.h"

#define MT_N 624
#define MT_M 397

typedef struct Rng {
    uint32_t key[MT_N];
    int pos;          /* next word of key; MT_N: regenerate */
    bool seeded;
    bool has_gauss;   /* legacy gauss: the second value of the last pair */
    double gauss;
} Rng;

_Static_assert(offsetof(Rng, key) == 0 && offsetof(Rng, pos) == HOST_RNG_POS_OFFSET &&
               MT_N == HOST_RNG_WORDS, "devices/cpu/lower_jit.c reads the generator's layout");

static _Thread_local Rng rng;

/* NumPy's mt19937_seed (Matsumoto-Nishimura init_genrand). */
static void mt_seed(Rng *r, uint32_t seed)
{
    for (int pos = 0; pos < MT_N; pos++) {
        r->key[pos] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)pos + 1u;
    }
    r->pos = MT_N;
    r->seeded = true;
    r->has_gauss = false;
    r->gauss = 0.0;
}

static void mt_generate(Rng *r)
{
    static const uint32_t mag[2] = {0u, 0x9908b0dfu};
    int i;
    uint32_t y;
    for (i = 0; i < MT_N - MT_M; i++) {
        y = (r->key[i] & 0x80000000u) | (r->key[i + 1] & 0x7fffffffu);
        r->key[i] = r->key[i + MT_M] ^ (y >> 1) ^ mag[y & 1u];
    }
    for (; i < MT_N - 1; i++) {
        y = (r->key[i] & 0x80000000u) | (r->key[i + 1] & 0x7fffffffu);
        r->key[i] = r->key[i + (MT_M - MT_N)] ^ (y >> 1) ^ mag[y & 1u];
    }
    y = (r->key[MT_N - 1] & 0x80000000u) | (r->key[0] & 0x7fffffffu);
    r->key[MT_N - 1] = r->key[MT_M - 1] ^ (y >> 1) ^ mag[y & 1u];
    r->pos = 0;
}

void *host_random_state(void)
{
    Rng *r = &rng;
    if (!r->seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)r;
        mt_seed(r, (uint32_t)(s ^ (s >> 32)));
    }
    return r;
}

static uint32_t next_u32(Rng *r)
{
    if (r->pos == MT_N)
        mt_generate(r);
    uint32_t y = r->key[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* 53 random bits in [0, 1): NumPy's mt19937_next_double. */
static double next_double(Rng *r)
{
    int32_t a = (int32_t)(next_u32(r) >> 5), b = (int32_t)(next_u32(r) >> 6);
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

void host_random_seed(void *state, int64_t seed)
{
    mt_seed(state, (uint32_t)seed);
}

double host_random_random(void *state) { return next_double(state); }

/* RandomState.uniform: low + (high - low) * random(). */
double host_random_uniform(void *state, double low, double high)
{
    return low + (high - low) * next_double(state);
}

/* RandomState.normal: loc + scale * legacy_gauss (the polar method, the
 * second value of each pair kept for the next call). */
double host_random_normal(void *state, double loc, double scale)
{
    Rng *r = state;
    double g;
    if (r->has_gauss) {
        r->has_gauss = false;
        g = r->gauss;
    } else {
        double x1, x2, r2;
        do {
            x1 = 2.0 * next_double(r) - 1.0;
            x2 = 2.0 * next_double(r) - 1.0;
            r2 = x1 * x1 + x2 * x2;
        } while (r2 >= 1.0 || r2 == 0.0);
        double f = sqrt(-2.0 * log(r2) / r2);
        r->gauss = f * x1;
        r->has_gauss = true;
        g = f * x2;
    }
    return loc + scale * g;
}

/* RandomState.randint(low, high) (int64): NumPy's masked rejection
 * sampling of high - low - 1, 32-bit draws when the range fits in 32 bits.
 * The compiled code has checked low < high (NumPy's ValueError) before the
 * call; an empty range still gives low here. */
int64_t host_random_randint(void *state, int64_t low, int64_t high)
{
    if (high <= low)
        return low;
    Rng *r = state;
    uint64_t rng_ = (uint64_t)high - (uint64_t)low - 1u;
    if (rng_ == 0)
        return low;
    uint64_t mask = rng_;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t v;
    if (rng_ <= 0xffffffffu) {
        if (rng_ == 0xffffffffu)
            return (int64_t)((uint64_t)low + next_u32(r));
        do
            v = next_u32(r) & mask;
        while (v > rng_);
    } else {
        do {
            uint64_t hi = next_u32(r);
            v = ((hi << 32) | next_u32(r)) & mask;
        } while (v > rng_);
    }
    return (int64_t)((uint64_t)low + v);
}
