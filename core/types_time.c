/*
 * types_time.c — NumPy's datetime64 and timedelta64 as kernel types.
 *
 * A value is an int64 count of its unit since 1970-01-01 (datetime64) or a
 * duration (timedelta64); NaT is INT64_MIN. The types are static, one per
 * kind and unit. The typing rules here follow NumPy (1.24 and 2.x):
 *
 *   datetime - datetime  -> timedelta       datetime +/- timedelta -> datetime
 *   timedelta +/- timedelta -> timedelta    timedelta * int, int * timedelta
 *   timedelta // int, timedelta / int -> timedelta (truncating, as NumPy)
 *   timedelta / timedelta -> float64        timedelta // timedelta -> int64
 *   timedelta % timedelta -> timedelta      datetime/timedelta +/- int: the int
 *                                           counts the other operand's unit
 *   comparisons of the same kind, and of a timedelta with an integer.
 *
 * Two units meet in the finer one (datetime64[D] - datetime64[h] is in
 * hours). NumPy also converts datetime64[Y]/[M] to days by the calendar;
 * ember refuses a mix of Y/M with W ... as (a TypingError), as NumPy itself
 * does for timedelta64.
 */
#include <string.h>

#include "core/ir.h"

static const char *const unit_names[TU_COUNT] = {
    [TU_GENERIC] = "", [TU_Y] = "Y",   [TU_M] = "M",   [TU_W] = "W",   [TU_D] = "D",
    [TU_h] = "h",      [TU_m] = "m",   [TU_s] = "s",   [TU_ms] = "ms", [TU_us] = "us",
    [TU_ns] = "ns",    [TU_ps] = "ps", [TU_fs] = "fs", [TU_as] = "as",
};

/* How many of the next finer unit make one of this unit. */
static const int64_t step[TU_COUNT] = {
    [TU_Y] = 12, [TU_W] = 7, [TU_D] = 24, [TU_h] = 60, [TU_m] = 60, [TU_s] = 1000,
    [TU_ms] = 1000, [TU_us] = 1000, [TU_ns] = 1000, [TU_ps] = 1000, [TU_fs] = 1000,
};

#define T(k, u) {.kind = k, .unit = u}
#define UNITS(k)                                                                          \
    {T(k, TU_GENERIC), T(k, TU_Y), T(k, TU_M), T(k, TU_W), T(k, TU_D), T(k, TU_h),         \
     T(k, TU_m), T(k, TU_s), T(k, TU_ms), T(k, TU_us), T(k, TU_ns), T(k, TU_ps),           \
     T(k, TU_fs), T(k, TU_as)}
static const Type time_types[2][TU_COUNT] = {UNITS(TY_DATETIME), UNITS(TY_TIMEDELTA)};
#undef UNITS
#undef T

const Type *ty_time(TypeKind kind, int unit)
{
    if ((kind != TY_DATETIME && kind != TY_TIMEDELTA) || unit < 0 || unit >= TU_COUNT)
        return NULL;
    return &time_types[kind == TY_TIMEDELTA][unit];
}

bool ty_is_time(const Type *t)
{
    return t && (t->kind == TY_DATETIME || t->kind == TY_TIMEDELTA);
}

const char *ty_time_unit_name(int unit)
{
    return unit >= 0 && unit < TU_COUNT ? unit_names[unit] : "?";
}

int ty_time_unit_from(const char *name)
{
    for (int u = 0; u < TU_COUNT; u++)
        if (strcmp(name, unit_names[u]) == 0)
            return u;
    return -1;
}

static bool calendar(int u) { return u == TU_Y || u == TU_M; }

int64_t ty_time_factor(int from, int to)
{
    if (from == TU_GENERIC || from == to)
        return 1;
    if (to == TU_GENERIC || to < from || calendar(from) != calendar(to))
        return 0;
    int64_t f = 1;
    for (int u = from; u < to; u++) {
        if (f > INT64_MAX / step[u])
            return 0;
        f *= step[u];
    }
    return f;
}

int ty_time_common(int a, int b)
{
    int fine = a > b ? a : b, coarse = a > b ? b : a;
    return ty_time_factor(coarse, fine) ? fine : -1;
}

static bool is_int(const Type *t) { return ty_is_int(t); }

const Type *ty_time_binary(int op, const Type *a, const Type *b, int *unit, const char **why)
{
    bool dta = a->kind == TY_DATETIME, dtb = b->kind == TY_DATETIME;
    bool tda = a->kind == TY_TIMEDELTA, tdb = b->kind == TY_TIMEDELTA;
    if ((!ty_is_time(a) && !is_int(a)) || (!ty_is_time(b) && !is_int(b))) {
        *why = "a datetime64 or timedelta64 operand goes with another of them or an integer";
        return NULL;
    }
    if (ty_is_time(a) && ty_is_time(b)) {
        *unit = ty_time_common(a->unit, b->unit);
        if (*unit < 0) {
            *why = "the units have no common unit that both convert to exactly (Y and M do "
                   "not mix with W ... as in ember; convert one operand's unit first)";
            return NULL;
        }
    } else {
        *unit = ty_is_time(a) ? a->unit : b->unit; /* an integer counts that unit */
    }
    const Type *dt = ty_time(TY_DATETIME, *unit), *td = ty_time(TY_TIMEDELTA, *unit);
    if (op >= OP_EQ && op <= OP_GE) {
        if ((dta && dtb) || (tda && tdb) || (tda && is_int(b)) || (is_int(a) && tdb))
            return ty_scalar(TY_BOOL);
        *why = "datetime64 compares with datetime64, timedelta64 with timedelta64 or an integer";
        return NULL;
    }
    switch (op) {
    case OP_ADD:
        if ((dta && (tdb || is_int(b))) || ((tda || is_int(a)) && dtb))
            return dt;
        if ((tda || is_int(a)) && (tdb || is_int(b)))
            return td;
        break;
    case OP_SUB:
        if (dta && dtb)
            return td;
        if (dta && (tdb || is_int(b)))
            return dt;
        if ((tda || is_int(a)) && (tdb || is_int(b)))
            return td;
        break;
    case OP_MUL:
        if ((tda && is_int(b)) || (is_int(a) && tdb))
            return td;
        break;
    case OP_FLOORDIV:
        if (tda && is_int(b))
            return td;
        if (tda && tdb)
            return ty_scalar(TY_I64);
        break;
    case OP_TRUEDIV:
        if (tda && is_int(b))
            return td;
        if (tda && tdb)
            return ty_scalar(TY_F64);
        break;
    case OP_MOD:
        if (tda && tdb)
            return td;
        break;
    default:
        break;
    }
    *why = "NumPy defines no such operation on these datetime64/timedelta64 operands";
    return NULL;
}

bool ty_time_storable(const Type *v, const Type *to)
{
    if (is_int(v))
        return true;
    return v->kind == to->kind &&
           (ty_time_factor(v->unit, to->unit) || ty_time_factor(to->unit, v->unit));
}
