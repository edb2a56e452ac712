"""The instruction handlers of the bytecode front end (bytecode.py): each
``op_<name>`` runs one instruction on the symbolic stack of ``ast`` nodes,
or emits the statement it ends (a store, a return, a call as a statement).
They return None to go on with the next instruction, or the index to go on
at when they consumed more (``and``/``or`` values, chained comparisons).
"""

import ast

_BINOPS = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "//": ast.FloorDiv,
    "%": ast.Mod, "**": ast.Pow, "@": ast.MatMult, "<<": ast.LShift, ">>": ast.RShift,
    "&": ast.BitAnd, "|": ast.BitOr, "^": ast.BitXor,
}
_CMPOPS = {"<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq}
_UNARY = {"UNARY_NEGATIVE": ast.USub, "UNARY_POSITIVE": ast.UAdd, "UNARY_NOT": ast.Not,
          "UNARY_INVERT": ast.Invert}
_COMPARE_FAMILY = ("compare", "is_op", "contains_op")

# What an instruction that has no place in a kernel stands for.
_CONSTRUCTS = {
    "unsupported": "defining a function, lambda, class or comprehension",
    "raise_": "'raise'",
    "assert_": "'assert'", "with_": "a 'with' statement", "try_": "a 'try' statement",
    "fstring": "an f-string", "star_call": "a call with *args or **kwargs",
    "dict_": "a dict", "set_": "a set", "import_": "'import'", "delete": "'del'",
    "yield_": "a generator", "comprehension": "a comprehension",
    "global_": "'global'", "nonlocal": "'nonlocal'",
}


def _at(node, ins):
    p = ins.positions
    if p is not None and p.lineno is not None:
        node.lineno, node.col_offset = p.lineno, p.col_offset or 0
        node.end_lineno, node.end_col_offset = p.end_lineno, p.end_col_offset
    return node


def _span(node, first, last):
    """node from the start of `first` to the end of `last`."""
    for a in ("lineno", "col_offset"):
        if hasattr(first, a):
            setattr(node, a, getattr(first, a))
    for a in ("end_lineno", "end_col_offset"):
        if hasattr(last, a):
            setattr(node, a, getattr(last, a))
    return node


def _store(node):
    """A load expression as an assignment target."""
    if isinstance(node, (ast.Name, ast.Subscript, ast.Attribute)):
        node.ctx = ast.Store()
    elif isinstance(node, (ast.Tuple, ast.List)):
        node.ctx = ast.Store()
        for e in node.elts:
            _store(e)
    return node


def _last_at(node, inner, closing=0):
    """inner, the last operand of node, ends where node does (less the
    `closing` bracket): its column when its own position is unknown."""
    if getattr(inner, "_approx", False) and isinstance(inner, ast.Name) and \
            getattr(node, "end_col_offset", None) is not None:
        inner.col_offset = node.end_col_offset - closing - len(inner.id)
        inner.end_col_offset = inner.col_offset + len(inner.id)
        inner._approx = False
    return node


def _first_at(ins, inner):
    """inner starts the expression instruction ins makes: its column."""
    p = ins.positions
    if getattr(inner, "_approx", False) and isinstance(inner, ast.Name) and \
            p is not None and p.col_offset is not None and p.lineno == inner.lineno:
        inner.col_offset = p.col_offset
        inner.end_col_offset = p.col_offset + len(inner.id)
        inner._approx = False


class ExprHandlers:
    """Mixed into bytecode._Decompiler."""

    def unsupported_op(self, k, ins, h):
        raise self.fail(k, _CONSTRUCTS.get(h, f"the operation '{ins.opname}'"))

    # -- loads --

    def op_load_name(self, k, ins):
        node = _at(ast.Name(id=ins.argval, ctx=ast.Load()), ins)
        # the second of 3.13's pair carries the first's position: its column
        # is fixed by what uses it (_last_at)
        node._approx = ins.argrepr == "second"
        self.push(node, k)

    def op_load_global(self, k, ins):
        null = ins.arg is not None and ins.arg & 1
        if null and self.null_first:
            self.push(self.NULL, k)
        self.push(_at(ast.Name(id=ins.argval, ctx=ast.Load()), ins), k)
        if null and not self.null_first:
            self.push(self.NULL, k)

    def op_load_const(self, k, ins):
        self.push(self.const(ins.argval, ins), k)

    def op_load_attr(self, k, ins):
        obj = self.pop(k)
        _first_at(ins, obj)
        node = _span(_at(ast.Attribute(value=obj, attr=ins.argval, ctx=ast.Load()), ins), obj, ins)
        node._start = getattr(obj, "_start", k)
        if self.attr_is_method(ins):
            # [NULL, attribute]: what CALL takes (bytecode.py reads either order)
            self.push(self.NULL, k)
        self.push(node, k)

    def op_load_method(self, k, ins):
        obj = self.pop(k)
        node = _at(ast.Attribute(value=obj, attr=ins.argval, ctx=ast.Load()), ins)
        node._start = getattr(obj, "_start", k)
        self.push(self.NULL, k)
        self.push(node, k)

    def op_push_null(self, k, ins):
        self.push(self.NULL, k)

    # -- calls --

    def op_kw_names(self, k, ins):
        self.kwnames = self.code.co_consts[ins.arg]    # dis (3.11) leaves argval unknown

    def op_call(self, k, ins, kwnames=None):
        if kwnames is None:
            kwnames, self.kwnames = self.kwnames or (), None
        args = [self.pop(k) for _ in range(ins.arg)][::-1]
        a, b = self.pop(k), self.pop(k)
        if a is self.NULL:
            fn = b
        elif b is self.NULL:
            fn = a
        else:   # (callable, first argument): `assert c, msg` calls AssertionError(msg)
            fn, args = b, [a] + args
        npos = len(args) - len(kwnames)
        kws = [ast.keyword(arg=n, value=v) for n, v in zip(kwnames, args[npos:])]
        for kw, v in zip(kws, args[npos:]):
            kw.lineno, kw.col_offset = v.lineno, max(0, v.col_offset - len(kw.arg) - 1)
        node = _at(ast.Call(func=fn, args=args[:npos], keywords=kws), ins)
        if args:
            _last_at(node, args[-1], 1)
        node._start = getattr(fn, "_start", k)
        self.push(node, k)

    def op_call_kw(self, k, ins):
        names = self.pop(k)
        kwnames = tuple(e.value for e in names.elts) if isinstance(names, ast.Tuple) else ()
        self.op_call(k, ins, kwnames)

    # -- operators --

    def op_binary_op(self, k, ins):
        right, left = self.pop(k), self.pop(k)
        _first_at(ins, left)
        sym = ins.argrepr
        inplace = sym.endswith("=") and sym not in ("==",)
        op = _BINOPS.get(sym[:-1] if inplace else sym)
        if op is None:
            raise self.fail(k, f"the operator '{sym}'")
        node = _span(_at(ast.BinOp(left=left, op=op(), right=right), ins), left, right)
        _last_at(_at(node, ins), right)
        node._inplace = inplace
        node._start = getattr(left, "_start", k)
        self.push(node, k)

    def op_unary(self, k, ins):
        v = self.pop(k)
        node = _at(ast.UnaryOp(op=_UNARY[ins.opname](), operand=v), ins)
        node._start = getattr(v, "_start", k)
        self.push(node, k)

    def op_intrinsic(self, k, ins):
        if "UNARY_POSITIVE" not in ins.argrepr:
            raise self.fail(k, f"the operation '{ins.argrepr}'")
        v = self.pop(k)
        node = _at(ast.UnaryOp(op=ast.UAdd(), operand=v), ins)
        node._start = getattr(v, "_start", k)
        self.push(node, k)

    def cmp_op(self, ins):
        h = self.ops.get(ins.opname)
        if h == "is_op":
            return ast.IsNot() if ins.arg else ast.Is()
        if h == "contains_op":
            return ast.NotIn() if ins.arg else ast.In()
        sym = ins.argrepr.replace("bool(", "").rstrip(")")
        return _CMPOPS[sym]()

    def op_compare(self, k, ins):
        right, left = self.pop(k), self.pop(k)
        _first_at(ins, left)
        node = _last_at(_at(ast.Compare(left=left, ops=[self.cmp_op(ins)],
                                        comparators=[right]), ins), right)
        node._start = getattr(left, "_start", k)
        self.push(node, k)

    op_is_op = op_compare
    op_contains_op = op_compare

    def op_subscr(self, k, ins):
        key, obj = self.pop(k), self.pop(k)
        _first_at(ins, obj)
        node = _last_at(_at(ast.Subscript(value=obj, slice=key, ctx=ast.Load()), ins), key, 1)
        node._start = getattr(obj, "_start", k)
        self.push(node, k)

    def op_binary_slice(self, k, ins):
        stop, start, obj = self.pop(k), self.pop(k), self.pop(k)
        self.push(obj, k)
        self.push(self.slice_node(k, [start, stop]), k)
        return self.op_subscr(k, ins)

    def slice_node(self, k, parts):
        parts = [None if isinstance(p, ast.Constant) and p.value is None else p for p in parts]
        node = ast.Slice(lower=parts[0], upper=parts[1], step=parts[2] if len(parts) > 2 else None)
        real = [p for p in parts if p is not None]
        if real:
            _span(node, real[0], real[-1])
            node.col_offset = max(0, real[0].col_offset - (1 if parts[0] is None else 0))
        return node

    def op_build_slice(self, k, ins):
        parts = [self.pop(k) for _ in range(ins.arg)][::-1]
        self.push(_at(self.slice_node(k, parts), ins), k)

    def op_build_tuple(self, k, ins):
        elts = [self.pop(k) for _ in range(ins.arg)][::-1]
        node = _at(ast.Tuple(elts=elts, ctx=ast.Load()), ins)
        if elts:
            _first_at(ins, elts[0])
            _last_at(node, elts[-1])
            node._start = getattr(elts[0], "_start", k)
        self.push(node, k)

    def op_build_list(self, k, ins):
        elts = [self.pop(k) for _ in range(ins.arg)][::-1]
        node = _at(ast.List(elts=elts, ctx=ast.Load()), ins)
        if elts:
            node._start = getattr(elts[0], "_start", k)
        self.push(node, k)

    def op_list_extend(self, k, ins):
        items = self.pop(k)
        lst = self.stack[-ins.arg]
        if not isinstance(lst, ast.List) or not isinstance(items, ast.Tuple):
            raise self.fail(k, "a list with *items")
        lst.elts.extend(items.elts)

    # -- the stack --

    def op_copy(self, k, ins):
        if ins.arg == 1 and self.is_value_boolop(k + 1):
            return self.value_boolop(k)
        self.push_copy(self.stack[-ins.arg], k)

    def op_swap(self, k, ins):
        if ins.arg == 2 and self.chain_start(k):
            return self.chained_compare(k)
        s = self.stack
        s[-1], s[-ins.arg] = s[-ins.arg], s[-1]

    def push_copy(self, v, k):
        self.stack.append(v)

    def op_nop(self, k, ins):
        return None

    # -- stores (statements) --

    def op_store_name(self, k, ins):
        name = _at(ast.Name(id=ins.argval, ctx=ast.Store()), ins)
        name._approx = ins.argrepr == "second"       # 3.13's pair: see _space_names
        self.store(k, name, self.pop(k))

    def op_store_deref(self, k, ins):
        if ins.argval in self.code.co_freevars:     # `nonlocal x; x = ...`
            self.unsupported_op(k, ins, "nonlocal")
        self.op_store_name(k, ins)

    def op_global_(self, k, ins):
        self.unsupported_op(k, ins, "global_")

    def op_store_subscr(self, k, ins):
        key, obj, value = self.pop(k), self.pop(k), self.pop(k)
        target = _last_at(_at(ast.Subscript(value=obj, slice=key, ctx=ast.Store()), ins), key, 1)
        self.store(k, target, value)

    def op_store_slice(self, k, ins):
        stop, start, obj, value = self.pop(k), self.pop(k), self.pop(k), self.pop(k)
        target = _at(ast.Subscript(value=obj, slice=self.slice_node(k, [start, stop]),
                                   ctx=ast.Store()), ins)
        self.store(k, target, value)

    def op_store_attr(self, k, ins):
        obj, value = self.pop(k), self.pop(k)
        target = _at(ast.Attribute(value=obj, attr=ins.argval, ctx=ast.Store()), ins)
        target.col_offset = obj.col_offset
        self.store(k, target, value)

    def op_unpack(self, k, ins):
        value = self.pop(k)
        targets = []
        n = self.store_target(k, targets)
        self.store(k, targets[0], value)
        return n

    def op_pop_top(self, k, ins):
        v = self.pop(k)
        if v is self.NULL:
            return None
        if isinstance(v, self.Marker):   # a for loop's iterator: break, or before return
            if self.is_break(k):
                self.emit(_at(ast.Break(), ins))
                if k + 1 in self.returns:    # the copied `return None` is the break's
                    return k + 3 if self.ins[k + 1].opname == "LOAD_CONST" else k + 2
            return None
        if self.pure:
            raise self.NotExpr
        self.emit(_span(ast.Expr(value=v), v, v))
        return None

    def op_return_value(self, k, ins):
        self.do_return(k, ins, self.pop(k))

    def op_return_const(self, k, ins):
        self.do_return(k, ins, self.const(ins.argval, ins))

    def do_return(self, k, ins, v):
        if self.pure:
            raise self.NotExpr
        none = isinstance(v, ast.Constant) and v.value is None
        node = ast.Return(value=None if none else v)
        node._pos = tuple(ins.positions or ())
        if none:
            _at(node, ins)
            at = k if ins.opname == "RETURN_CONST" else k - 1
            group = (at, k)
            if self.loops and self.is_keyword(at, 5, group):
                # a break whose loop ends the function: the compiler put
                # the return there instead of the jump
                self.emit(_at(ast.Break(), ins))
                return
            node._implicit = not self.explicit_return(at, k)
        else:
            _span(node, v, v)
            node.col_offset = max(0, v.col_offset - 7)
        self.emit(node)

    def explicit_return(self, at, k):
        """`return` or `return None` of the source: a position of its own
        (the compiler's copies share one), `return`'s width, or the None's
        own position inside it."""
        p = self.ins[k].positions
        if not self.is_keyword(k, None, (at, k)) or p.lineno != p.end_lineno:
            return False
        width = p.end_col_offset - p.col_offset
        if at == k:                                   # RETURN_CONST
            return width in (6, 11)
        return width == 6 or self.ins[at].positions != p

    # -- instructions no kernel has --

    def op_unsupported(self, k, ins):
        self.unsupported_op(k, ins, "unsupported")

    def op_raise_(self, k, ins):
        if self.pure:
            raise self.NotExpr
        if ins.arg == 0:
            node = _at(ast.Raise(exc=None, cause=None), ins)
        elif ins.arg == 1:
            exc = self.pop(k)
            node = _at(ast.Raise(exc=exc, cause=None), ins)
        else:
            cause, exc = self.pop(k), self.pop(k)
            node = _at(ast.Raise(exc=exc, cause=cause), ins)
        self.emit(node)

    def op_assert_(self, k, ins):
        # AssertionError; the if around the raise becomes the assert (bytecode._assert)
        node = _at(ast.Name(id="AssertionError", ctx=ast.Load()), ins)
        node._assert = True
        self.push(node, k)

    def op_with_(self, k, ins):
        self.unsupported_op(k, ins, "with_")

    def op_try_(self, k, ins):
        self.unsupported_op(k, ins, "try_")

    def op_fstring(self, k, ins):
        self.unsupported_op(k, ins, "fstring")

    def op_star_call(self, k, ins):
        self.unsupported_op(k, ins, "star_call")

    def op_dict_(self, k, ins):
        self.unsupported_op(k, ins, "dict_")

    def op_set_(self, k, ins):
        self.unsupported_op(k, ins, "set_")

    def op_import_(self, k, ins):
        self.unsupported_op(k, ins, "import_")

    def op_delete(self, k, ins):
        self.unsupported_op(k, ins, "delete")

    def op_yield_(self, k, ins):
        self.unsupported_op(k, ins, "yield_")

    def op_comprehension(self, k, ins):
        self.unsupported_op(k, ins, "comprehension")

    # -- and/or with values, chained comparisons --

    def op_and_value(self, k, ins):      # 3.11: JUMP_IF_FALSE_OR_POP
        return self.boolop_to(k, ast.And, self.target(k), k + 1)

    def op_or_value(self, k, ins):
        return self.boolop_to(k, ast.Or, self.target(k), k + 1)

    def is_value_boolop(self, j):
        """3.12+: COPY 1; [TO_BOOL]; POP_JUMP_IF_*; POP_TOP."""
        if j < len(self.ins) and self.ins[j].opname == "TO_BOOL":
            j += 1
        return self.op(j) in ("jump_if_false", "jump_if_true") and \
            j + 1 < len(self.ins) and self.ins[j + 1].opname == "POP_TOP"

    def value_boolop(self, k):
        j = k + 1
        if self.ins[j].opname == "TO_BOOL":
            j += 1
        op = ast.And if self.op(j) == "jump_if_false" else ast.Or
        return self.boolop_to(k, op, self.target(j), j + 2)

    def boolop_to(self, k, op, end, rhs_start):
        left = self.pop(k)
        right = self.region_value(rhs_start, end)
        node = self.boolop(op, left, right)
        node._start = getattr(left, "_start", k)
        self.stack.append(node)
        return end

    def chain_start(self, k):
        """SWAP 2; COPY 2; <comparison>: a link of a chained comparison."""
        return k + 2 < len(self.ins) and self.ins[k + 1].opname == "COPY" and \
            self.ins[k + 1].arg == 2 and self.op(k + 2) in _COMPARE_FAMILY

    def chained_compare(self, k):
        """a < b < c: SWAP 2; COPY 2; CMP; <jump to cleanup>; c; CMP; then
        either the value (JUMP_FORWARD end; cleanup: SWAP 2; POP_TOP) or a
        test (POP_JUMP T; JUMP_FORWARD body; cleanup: POP_TOP; JUMP_FORWARD)."""
        mid, left = self.pop(k), self.pop(k)
        first = left
        ops, comps = [], []
        j = k
        while True:
            if not self.chain_start(j):
                raise self.fail(j, "this chained comparison")
            ops.append(self.cmp_op(self.ins[j + 2]))
            comps.append(mid)
            j += 3
            if self.ins[j].opname == "COPY" and self.ins[j].arg == 1:   # 3.12+ value
                j += 1
            if self.ins[j].opname == "TO_BOOL":
                j += 1
            if self.op(j) not in ("and_value", "jump_if_false"):
                raise self.fail(j, "this chained comparison")
            cleanup = self.target(j)
            j += 1
            if self.ins[j].opname == "POP_TOP":                        # 3.12+ value
                j += 1
            base = len(self.stack)
            self.stack.append(mid)
            while not (len(self.stack) == base + 2 and
                       (self.op(j) in _COMPARE_FAMILY or self.chain_start(j))):
                n = self.step(j)
                j = n if n is not None else j + 1
            mid = self.stack.pop()
            self.stack.pop()
            if self.op(j) in _COMPARE_FAMILY:
                ops.append(self.cmp_op(self.ins[j]))
                comps.append(mid)
                j += 1
                break
        node = _span(ast.Compare(left=first, ops=ops, comparators=comps), first, comps[-1])
        node._start = getattr(first, "_start", k)
        if self.op(j) == "jump" and self.target(j) == cleanup + 2:    # a value
            self.stack.append(node)
            return cleanup + 2
        # a test: the jump after it is the condition's; its fall-through is
        # the body after the cleanup block
        jj = j + 1 if self.ins[j].opname == "TO_BOOL" else j
        if self.op(jj) in ("jump_if_false", "jump_if_true") and self.op(jj + 1) == "jump" and \
                self.target(jj + 1) > cleanup:
            self.fall_over[jj] = self.target(jj + 1)
            self.stack.append(node)
            return j
        raise self.fail(j, "this chained comparison")
