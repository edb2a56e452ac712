"""Each Python version's instructions, named by what bytecode.py does with them.

One table per version (3.11, 3.12, 3.13): instruction name -> handler
(the ``op_<handler>`` methods of bytecode_exprs.py, or a name bytecode.py
dispatches on: jump, jump_if_*, for_iter, nop). An instruction missing from
its version's table cannot be rebuilt (UnsupportedError naming it).
"""

# Python 3.11 (dis names as of 3.11.2)
OPS_311 = {
    "NOP": "nop", "PRECALL": "nop", "GET_ITER": "nop",
    "LOAD_FAST": "load_name", "LOAD_DEREF": "load_name", "LOAD_NAME": "load_name",
    "LOAD_GLOBAL": "load_global", "LOAD_CLASSDEREF": "load_name",
    "LOAD_CONST": "load_const", "LOAD_ATTR": "load_attr", "LOAD_METHOD": "load_method",
    "PUSH_NULL": "push_null", "KW_NAMES": "kw_names", "CALL": "call",
    "STORE_FAST": "store_name", "STORE_DEREF": "store_deref", "STORE_NAME": "store_name",
    "STORE_GLOBAL": "global_", "DELETE_GLOBAL": "global_", "STORE_SUBSCR": "store_subscr",
    "STORE_ATTR": "store_attr",
    "UNPACK_SEQUENCE": "unpack",
    "BINARY_OP": "binary_op", "BINARY_SUBSCR": "subscr", "BUILD_SLICE": "build_slice",
    "BUILD_TUPLE": "build_tuple", "BUILD_LIST": "build_list", "LIST_EXTEND": "list_extend",
    "UNARY_NEGATIVE": "unary", "UNARY_POSITIVE": "unary", "UNARY_NOT": "unary",
    "UNARY_INVERT": "unary",
    "COMPARE_OP": "compare", "IS_OP": "is_op", "CONTAINS_OP": "contains_op",
    "COPY": "copy", "SWAP": "swap", "POP_TOP": "pop_top", "RETURN_VALUE": "return_value",
    "JUMP_FORWARD": "jump", "JUMP_BACKWARD": "jump", "JUMP_BACKWARD_NO_INTERRUPT": "jump",
    "POP_JUMP_FORWARD_IF_FALSE": "jump_if_false", "POP_JUMP_BACKWARD_IF_FALSE": "jump_if_false",
    "POP_JUMP_FORWARD_IF_TRUE": "jump_if_true", "POP_JUMP_BACKWARD_IF_TRUE": "jump_if_true",
    "POP_JUMP_FORWARD_IF_NONE": "jump_if_none", "POP_JUMP_BACKWARD_IF_NONE": "jump_if_none",
    "POP_JUMP_FORWARD_IF_NOT_NONE": "jump_if_not_none",
    "POP_JUMP_BACKWARD_IF_NOT_NONE": "jump_if_not_none",
    "JUMP_IF_FALSE_OR_POP": "and_value", "JUMP_IF_TRUE_OR_POP": "or_value",
    "FOR_ITER": "for_iter",
    "MAKE_FUNCTION": "unsupported", "LOAD_CLOSURE": "unsupported", "RAISE_VARARGS": "raise_", "LOAD_ASSERTION_ERROR": "assert_",
    "BEFORE_WITH": "with_", "PUSH_EXC_INFO": "try_", "FORMAT_VALUE": "fstring",
    "BUILD_STRING": "fstring", "CALL_FUNCTION_EX": "star_call", "BUILD_MAP": "dict_",
    "BUILD_CONST_KEY_MAP": "dict_", "BUILD_SET": "set_", "IMPORT_NAME": "import_",
    "DELETE_FAST": "delete", "DELETE_SUBSCR": "delete", "YIELD_VALUE": "yield_",
    "RETURN_GENERATOR": "yield_", "GEN_START": "yield_", "LOAD_BUILD_CLASS": "unsupported",
}

# Python 3.12: jumps are forward-only POP_JUMP_IF_*, `and`/`or` values are
# COPY 1; POP_JUMP_IF_*; POP_TOP, RETURN_CONST, BINARY_SLICE/STORE_SLICE,
# END_FOR, no PRECALL, LOAD_METHOD folded into LOAD_ATTR.
OPS_312 = {k: v for k, v in OPS_311.items() if not k.startswith("POP_JUMP_FORWARD")
           and not k.startswith("POP_JUMP_BACKWARD") and k not in (
               "PRECALL", "LOAD_METHOD", "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP")}
OPS_312.update({
    "POP_JUMP_IF_FALSE": "jump_if_false", "POP_JUMP_IF_TRUE": "jump_if_true",
    "POP_JUMP_IF_NONE": "jump_if_none", "POP_JUMP_IF_NOT_NONE": "jump_if_not_none",
    "RETURN_CONST": "return_const", "BINARY_SLICE": "binary_slice",
    "STORE_SLICE": "store_slice", "END_FOR": "nop", "LOAD_FAST_CHECK": "load_name",
    "CALL_INTRINSIC_1": "intrinsic", "LOAD_FAST_AND_CLEAR": "comprehension",
    "LOAD_SUPER_ATTR": "unsupported",
})

# Python 3.13: TO_BOOL before every test, CALL_KW instead of KW_NAMES,
# instructions for two locals at once, LOAD_GLOBAL's NULL after the callable.
OPS_313 = {k: v for k, v in OPS_312.items() if k not in ("KW_NAMES",)}
OPS_313.update({
    "TO_BOOL": "nop", "CALL_KW": "call_kw",
    # pairs of local loads/stores on one line: split in two (bytecode.py)
    "LOAD_FAST_LOAD_FAST": "split", "STORE_FAST_LOAD_FAST": "split",
    "STORE_FAST_STORE_FAST": "split",
    "SET_FUNCTION_ATTRIBUTE": "unsupported", "FORMAT_SIMPLE": "fstring",
    "FORMAT_WITH_SPEC": "fstring", "CONVERT_VALUE": "fstring",
})

OPS = {(3, 11): OPS_311, (3, 12): OPS_312, (3, 13): OPS_313}
