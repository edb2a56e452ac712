/*
 * types.c — ember's type system: scalar types, arrays, tuples, NumPy
 * promotion with NEP 50 weak literals, and the argument ABI sizes.
 *
 * Types are interned for the whole process, so equal types are the same
 * pointer; scalars are static, arrays and tuples are made on demand under a
 * lock and live until ty_reset().
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/ir.h"

static const Type scalar_types[TY_TUPLE] = {
#define S(k) [k] = {.kind = k}
    S(TY_VOID), S(TY_BOOL), S(TY_I8), S(TY_I16), S(TY_I32), S(TY_I64), S(TY_U8), S(TY_U16),
    S(TY_U32), S(TY_U64), S(TY_F16), S(TY_F32), S(TY_F64), S(TY_BF16), S(TY_C64), S(TY_C128), S(TY_WEAK_INT),
    S(TY_WEAK_FLOAT), S(TY_WEAK_COMPLEX),
#undef S
};

const Type *ty_scalar(TypeKind kind)
{
    EM_ASSERT(kind < TY_ARRAY);
    return &scalar_types[kind];
}

/* Interned composite types: a singly linked list is enough for the few
 * dozen distinct types a program uses. */
struct TypeNode {
    Type type;
    struct TypeNode *next;
};
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static struct TypeNode *interned;

static bool same_composite(const Type *a, const Type *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == TY_ARRAY)
        return a->elem == b->elem && a->ndim == b->ndim && a->layout == b->layout &&
               a->readonly == b->readonly;
    if (a->nfields != b->nfields)
        return false;
    for (int i = 0; i < a->nfields; i++)
        if (a->fields[i] != b->fields[i])
            return false;
    if (a->kind == TY_RECORD) {
        if (a->size != b->size || a->align != b->align || a->readonly != b->readonly)
            return false;
        for (int i = 0; i < a->nfields; i++)
            if (strcmp(a->names[i], b->names[i]) != 0 || a->offsets[i] != b->offsets[i] ||
                (a->fchars ? a->fchars[i] : 0) != (b->fchars ? b->fchars[i] : 0) ||
                memcmp(a->fshapes + i * EM_FIELD_MAX_NDIM, b->fshapes + i * EM_FIELD_MAX_NDIM,
                       EM_FIELD_MAX_NDIM * sizeof(int64_t)) != 0)
                return false;
    }
    return true;
}

/* The record's arrays, in one allocation after `n` (freed with it). */
static bool copy_record_parts(Type *t, const Type *proto)
{
    int n = proto->nfields;
    size_t names_len = 0;
    for (int i = 0; i < n; i++)
        names_len += strlen(proto->names[i]) + 1;
    size_t bytes = (size_t)n * (sizeof(char *) + sizeof(int64_t) * (1 + EM_FIELD_MAX_NDIM)) +
                   (size_t)n + names_len;
    char *mem = calloc(1, bytes ? bytes : 1);
    if (!mem)
        return false;
    int64_t *offs = (int64_t *)mem, *shapes = offs + n;
    const char **names = (const char **)(shapes + (size_t)n * EM_FIELD_MAX_NDIM);
    char *chars = (char *)(names + n), *text = chars + n;
    if (proto->fchars)
        memcpy(chars, proto->fchars, (size_t)n);
    memcpy(offs, proto->offsets, (size_t)n * sizeof(int64_t));
    memcpy(shapes, proto->fshapes, (size_t)n * EM_FIELD_MAX_NDIM * sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        size_t len = strlen(proto->names[i]) + 1;
        memcpy(text, proto->names[i], len);
        names[i] = text;
        text += len;
    }
    t->offsets = offs;
    t->fshapes = shapes;
    t->names = names;
    t->fchars = chars;
    return true;
}

static const Type *intern(const Type *proto)
{
    em_mutex_lock(&intern_lock);
    for (struct TypeNode *n = interned; n; n = n->next)
        if (same_composite(&n->type, proto)) {
            em_mutex_unlock(&intern_lock);
            return &n->type;
        }
    /* Types are tiny and few; they are allocated with plain malloc so that
     * fault injection tests of other code do not hit them. */
    struct TypeNode *n = calloc(1, sizeof *n);
    const Type **fields = NULL;
    if (n && proto->nfields) {
        fields = calloc((size_t)proto->nfields, sizeof *fields);
        if (!fields) {
            free(n);
            n = NULL;
        } else {
            memcpy(fields, proto->fields, (size_t)proto->nfields * sizeof *fields);
        }
    }
    if (!n) {
        em_mutex_unlock(&intern_lock);
        return NULL;
    }
    n->type = *proto;
    n->type.fields = fields;
    if (proto->kind == TY_RECORD && !copy_record_parts(&n->type, proto)) {
        free(fields);
        free(n);
        em_mutex_unlock(&intern_lock);
        return NULL;
    }
    n->next = interned;
    interned = n;
    em_mutex_unlock(&intern_lock);
    return &n->type;
}

const Type *ty_array(const Type *elem, int ndim, char layout, bool readonly)
{
    if (!elem || (!ty_is_number(elem) && elem->kind != TY_RECORD && !ty_is_time(elem)) ||
        ty_is_weak(elem) ||
        ndim < 1 || ndim > EMBER_MAX_NDIM)
        return NULL;
    if (ndim == 1 && layout == 'F')
        layout = 'C'; /* one-dimensional contiguous is both */
    Type proto = {.kind = TY_ARRAY, .elem = elem, .ndim = ndim, .layout = layout,
                  .readonly = readonly};
    return intern(&proto);
}

const Type *ty_tuple(int n, const Type *const *fields)
{
    if (n < 0 || (n > 0 && !fields))
        return NULL;
    for (int i = 0; i < n; i++)
        if (!fields[i])
            return NULL;
    Type proto = {.kind = TY_TUPLE, .nfields = n, .fields = (const Type **)fields};
    return intern(&proto);
}

const Type *ty_record(int n, const char *const *names, const Type *const *fields,
                      const int64_t *offsets, const int64_t *fshapes, int64_t size, int align)
{
    return ty_record_chars(n, names, fields, offsets, fshapes, NULL, size, align);
}

const Type *ty_record_chars(int n, const char *const *names, const Type *const *fields,
                            const int64_t *offsets, const int64_t *fshapes, const char *fchars,
                            int64_t size, int align)
{
    if (n < 1 || n > EM_RECORD_MAX_FIELDS || size < 1 || align < 1)
        return NULL;
    for (int i = 0; i < n; i++) {
        const Type *f = fields[i];
        if (!f || !names[i] || offsets[i] < 0 ||
            (f->kind != TY_ARRAY && (f->kind >= TY_WEAK_INT || f->kind == TY_VOID)))
            return NULL;
        int64_t bytes = ty_bits(f->kind == TY_ARRAY ? f->elem : f) / 8;
        if (f->kind == TY_ARRAY)
            for (int d = 0; d < f->ndim; d++)
                bytes *= fshapes[i * EM_FIELD_MAX_NDIM + d];
        if (offsets[i] + bytes > size)
            return NULL;
        /* a string: a 1-D array of its code units (UCS4 for 'U', bytes for 'S') */
        if (fchars && fchars[i] &&
            (f->kind != TY_ARRAY || f->ndim != 1 ||
             f->elem != ty_scalar(fchars[i] == 'U' ? TY_U32 : TY_U8) ||
             (fchars[i] != 'U' && fchars[i] != 'S')))
            return NULL;
    }
    Type proto = {.kind = TY_RECORD, .nfields = n, .fields = (const Type **)fields,
                  .names = names, .offsets = offsets, .fshapes = fshapes, .fchars = fchars,
                  .size = size, .align = align};
    return intern(&proto);
}

const Type *ty_record_readonly(const Type *rec, bool readonly)
{
    if (!rec || rec->kind != TY_RECORD || rec->readonly == readonly)
        return rec;
    Type proto = *rec;
    proto.readonly = readonly;
    return intern(&proto);
}

char ty_is_chars_item(const Type *t)
{
    if (t && t->kind == TY_RECORD && t->nfields == 1 && t->names[0][0] == '\0')
        return t->fchars[0];
    return 0;
}

int ty_record_field(const Type *rec, const char *name)
{
    for (int i = 0; rec && rec->kind == TY_RECORD && i < rec->nfields; i++)
        if (strcmp(rec->names[i], name) == 0)
            return i;
    return -1;
}

void ty_reset(void)
{
    em_mutex_lock(&intern_lock);
    while (interned) {
        struct TypeNode *n = interned;
        interned = n->next;
        free((void *)n->type.fields);
        if (n->type.kind == TY_RECORD)
            free((void *)n->type.offsets); /* the record's parts (copy_record_parts) */
        free(n);
    }
    em_mutex_unlock(&intern_lock);
}

const Type *ty_from_dtype(ember_dtype dt)
{
    static const TypeKind map[EMBER_DTYPE_COUNT] = {
        [EMBER_BOOL] = TY_BOOL, [EMBER_INT8] = TY_I8,     [EMBER_INT16] = TY_I16,
        [EMBER_INT32] = TY_I32, [EMBER_INT64] = TY_I64,   [EMBER_UINT8] = TY_U8,
        [EMBER_UINT16] = TY_U16, [EMBER_UINT32] = TY_U32, [EMBER_UINT64] = TY_U64,
        [EMBER_FLOAT16] = TY_F16, [EMBER_FLOAT32] = TY_F32, [EMBER_FLOAT64] = TY_F64,
        [EMBER_COMPLEX64] = TY_C64, [EMBER_COMPLEX128] = TY_C128,
    };
    if ((unsigned)dt >= EMBER_DTYPE_COUNT || map[dt] == TY_VOID)
        return NULL;
    return ty_scalar(map[dt]);
}

bool ty_is_weak(const Type *t)
{
    return t && (t->kind == TY_WEAK_INT || t->kind == TY_WEAK_FLOAT || t->kind == TY_WEAK_COMPLEX);
}
bool ty_is_bf16(const Type *t)
{
    return t && t->kind == TY_BF16;
}
bool ty_is_int(const Type *t)
{
    return t && ((t->kind >= TY_I8 && t->kind <= TY_U64) || t->kind == TY_WEAK_INT);
}
bool ty_is_signed(const Type *t)
{
    return t && ((t->kind >= TY_I8 && t->kind <= TY_I64) || t->kind == TY_WEAK_INT);
}
bool ty_is_float(const Type *t)
{
    return t && (t->kind == TY_F16 || t->kind == TY_F32 || t->kind == TY_F64 ||
                 t->kind == TY_WEAK_FLOAT);
}
bool ty_is_complex(const Type *t)
{
    return t && (t->kind == TY_C64 || t->kind == TY_C128 || t->kind == TY_WEAK_COMPLEX);
}
bool ty_is_number(const Type *t)
{
    return t && (t->kind == TY_BOOL || ty_is_int(t) || ty_is_float(t) || ty_is_complex(t));
}

int ty_bits(const Type *t)
{
    switch (t->kind) {
    case TY_BOOL: return 1;
    case TY_I8: case TY_U8: return 8;
    case TY_I16: case TY_U16: case TY_F16: case TY_BF16: return 16;
    case TY_I32: case TY_U32: case TY_F32: return 32;
    case TY_I64: case TY_U64: case TY_F64: case TY_WEAK_INT: case TY_WEAK_FLOAT:
    case TY_C64: case TY_DATETIME: case TY_TIMEDELTA: return 64;
    case TY_C128: case TY_WEAK_COMPLEX: return 128;
    case TY_RECORD: return (int)(t->size * 8); /* so that bits / 8 is the itemsize */
    default: return 0;
    }
}

const Type *ty_concrete(const Type *t)
{
    if (!t)
        return NULL;
    switch (t->kind) {
    case TY_WEAK_INT: return ty_scalar(TY_I64);
    case TY_WEAK_FLOAT: return ty_scalar(TY_F64);
    case TY_WEAK_COMPLEX: return ty_scalar(TY_C128);
    case TY_TUPLE: {
        const Type *f[EMBER_MAX_NDIM * 2];
        if (t->nfields > (int)EM_ARRAY_LEN(f))
            return t;
        bool changed = false;
        for (int i = 0; i < t->nfields; i++) {
            f[i] = ty_concrete(t->fields[i]);
            changed |= f[i] != t->fields[i];
        }
        return changed ? ty_tuple(t->nfields, f) : t;
    }
    default: return t;
    }
}

static const Type *signed_of_bits(int bits)
{
    return ty_scalar(bits <= 8 ? TY_I8 : bits <= 16 ? TY_I16 : bits <= 32 ? TY_I32 : TY_I64);
}

/* The smallest float that holds every value of integer type t exactly
 * enough for NumPy: bool and 8-bit integers go to float16, 16-bit to
 * float32, wider to float64 (np.int8 + np.float16 is float16). */
static int float_bits_for(const Type *t)
{
    if (t->kind == TY_BOOL || ty_bits(t) <= 8)
        return 16;
    if (ty_bits(t) <= 16)
        return 32;
    return 64;
}

/* Promotion of two concrete numbers, NumPy's table. */
static const Type *promote_concrete(const Type *a, const Type *b)
{
    if (a == b)
        return a;
    if (a->kind == TY_BOOL)
        return b;
    if (b->kind == TY_BOOL)
        return a;
    if (ty_is_complex(a) || ty_is_complex(b)) {
        int fa = ty_is_complex(a) ? ty_bits(a) / 2 : ty_is_float(a) ? ty_bits(a) : float_bits_for(a);
        int fb = ty_is_complex(b) ? ty_bits(b) / 2 : ty_is_float(b) ? ty_bits(b) : float_bits_for(b);
        return ty_scalar((fa > fb ? fa : fb) > 32 ? TY_C128 : TY_C64);
    }
    if (ty_is_float(a) || ty_is_float(b)) {
        int fa = ty_is_float(a) ? ty_bits(a) : float_bits_for(a);
        int fb = ty_is_float(b) ? ty_bits(b) : float_bits_for(b);
        int f = fa > fb ? fa : fb;
        return ty_scalar(f > 32 ? TY_F64 : f > 16 ? TY_F32 : TY_F16);
    }
    /* two integers */
    bool sa = ty_is_signed(a), sb = ty_is_signed(b);
    int ba = ty_bits(a), bb = ty_bits(b);
    if (sa == sb)
        return ba >= bb ? a : b;
    const Type *s = sa ? a : b, *u = sa ? b : a;
    if (ty_bits(s) > ty_bits(u))
        return s;
    if (ty_bits(u) >= 64)
        return ty_scalar(TY_F64); /* int64 with uint64: NumPy gives float64 */
    return signed_of_bits(ty_bits(u) * 2);
}

/* NEP 50: a weak (Python) number adopts the other operand's type when the
 * kinds allow it, and otherwise the default type of the higher kind. */
static const Type *promote_weak(const Type *w, const Type *c)
{
    switch (w->kind) {
    case TY_WEAK_INT:
        return c->kind == TY_BOOL ? ty_scalar(TY_I64) : c;
    case TY_WEAK_FLOAT:
        if (ty_is_float(c) || ty_is_complex(c))
            return c;
        return ty_scalar(TY_F64);
    case TY_WEAK_COMPLEX:
        if (ty_is_complex(c))
            return c;
        if (c->kind == TY_F32 || c->kind == TY_F16)
            return ty_scalar(TY_C64);
        return ty_scalar(TY_C128);
    default:
        return NULL;
    }
}

const Type *ty_promote(const Type *a, const Type *b)
{
    if (!a || !b || !ty_is_number(a) || !ty_is_number(b))
        return NULL;
    bool wa = ty_is_weak(a), wb = ty_is_weak(b);
    if (wa && wb) /* arithmetic on two literals stays a literal */
        return a->kind >= b->kind ? a : b;
    if (wa)
        return promote_weak(a, b);
    if (wb)
        return promote_weak(b, a);
    return promote_concrete(a, b);
}

static const char *const scalar_names[TY_ARRAY] = {
    [TY_VOID] = "none",      [TY_BOOL] = "bool",       [TY_I8] = "int8",
    [TY_I16] = "int16",      [TY_I32] = "int32",       [TY_I64] = "int64",
    [TY_U8] = "uint8",       [TY_U16] = "uint16",      [TY_U32] = "uint32",
    [TY_U64] = "uint64",     [TY_F16] = "float16", [TY_F32] = "float32",     [TY_F64] = "float64",
    [TY_BF16] = "bfloat16",
    [TY_C64] = "complex64",  [TY_C128] = "complex128", [TY_WEAK_INT] = "int literal",
    [TY_WEAK_FLOAT] = "float literal", [TY_WEAK_COMPLEX] = "complex literal",
};

const char *ty_str(const Type *t, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!t) {
        em_strappend(buf, cap, "<unknown>");
        return buf;
    }
    if (t->kind < TY_ARRAY) {
        em_strappend(buf, cap, "%s", scalar_names[t->kind]);
    } else if (t->kind == TY_ARRAY) {
        if (t->readonly)
            em_strappend(buf, cap, "readonly ");
        char sub[256];
        em_strappend(buf, cap, "%s[", t->elem->kind == TY_RECORD || ty_is_time(t->elem)
                                          ? ty_str(t->elem, sub, sizeof sub)
                                          : scalar_names[t->elem->kind]);
        for (int i = 0; i < t->ndim; i++) {
            bool unit = (t->layout == 'C' && i == t->ndim - 1) || (t->layout == 'F' && i == 0);
            em_strappend(buf, cap, "%s%s", i ? ", " : "", unit ? "::1" : ":");
        }
        em_strappend(buf, cap, "]");
    } else if (ty_is_time(t)) {
        const char *u = ty_time_unit_name(t->unit);
        em_strappend(buf, cap, "%s%s%s%s", t->kind == TY_DATETIME ? "datetime64" : "timedelta64",
                     *u ? "[" : "", u, *u ? "]" : "");
    } else if (ty_is_chars_item(t)) { /* numba's spelling of NumPy's U12, S12 */
        em_strappend(buf, cap, "[%s x %lld]", t->fchars[0] == 'U' ? "unichr" : "char",
                     (long long)t->fshapes[0]);
    } else if (t->kind == TY_RECORD) {
        em_strappend(buf, cap, "%sRecord(", t->readonly ? "readonly " : "");
        for (int i = 0; i < t->nfields; i++) {
            char sub[256];
            if (t->fchars[i])
                snprintf(sub, sizeof sub, "[%s x %lld]", t->fchars[i] == 'U' ? "unichr" : "char",
                         (long long)t->fshapes[i * EM_FIELD_MAX_NDIM]);
            else
                ty_str(t->fields[i], sub, sizeof sub);
            em_strappend(buf, cap, "%s%s: %s", i ? ", " : "", t->names[i], sub);
        }
        em_strappend(buf, cap, "; %lld bytes)", (long long)t->size);
    } else {
        em_strappend(buf, cap, "(");
        for (int i = 0; i < t->nfields; i++) {
            char sub[256];
            em_strappend(buf, cap, "%s%s", i ? ", " : "", ty_str(t->fields[i], sub, sizeof sub));
        }
        em_strappend(buf, cap, t->nfields == 1 ? ",)" : ")");
    }
    return buf;
}

size_t abi_size(const Type *t)
{
    switch (t->kind) {
    case TY_ARRAY: return 8 + 16 * (size_t)t->ndim;
    case TY_TUPLE: {
        size_t n = 0;
        for (int i = 0; i < t->nfields; i++)
            n += abi_size(t->fields[i]);
        return n;
    }
    case TY_C128: case TY_WEAK_COMPLEX: return 16;
    case TY_VOID: return 0;
    default: return 8;
    }
}
