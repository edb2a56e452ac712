/*
 * intrinsics.c — the table of intrinsics (core/intrinsics.def) as data the
 * compiler's stages read: the front end's names, labels for messages,
 * arity, kind and typing rule.
 */
#include <string.h>

#include "core/ir.h"

const IntrinsicInfo ir_intrinsics[INTR_COUNT] = {
#define INTRINSIC(e, name, label, min, max, kind, rule) [INTR_##e] = {name, label, min, max, kind, rule},
#include "core/intrinsics.def"
#undef INTRINSIC
};

int ir_intrinsic_lookup(const char *name)
{
    for (int i = 0; i < INTR_COUNT; i++)
        if (strcmp(ir_intrinsics[i].name, name) == 0)
            return i;
    return -1;
}
