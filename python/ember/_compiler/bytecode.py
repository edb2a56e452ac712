"""The front end's tree rebuilt from bytecode, for functions without source.

ember reads a function's source with ``inspect.getsource`` (frontend.py).
Functions made by ``exec``, ``python -c``, stdin or the interactive
interpreter have none; for them this module rebuilds the ``ast.FunctionDef``
the parser would have given, from the code object, for the structured
subset a kernel may use: if/elif/else, while, for, break/continue, return,
assignments (names, subscripts, attributes, tuples, chained, augmented),
calls with keyword arguments, attributes, subscripts and slices, tuples,
unary, binary and comparison operators (chained ones too), ``and``/``or``
with operand values and ternary expressions. Nodes carry the lines and
columns of the code object's position table, so errors name file:line.

How control flow is recovered: each conditional jump is a node "fall
through when F, else go to T"; consecutive nodes merge into ``and``/``or``
while one's target is the other's (_Conds), and the merged test's
fall-through starts the body, its target the ``else``. Loops are the back
edges: ``for`` is FOR_ITER, ``while`` the body followed by the test repeated
and jumping back (a plain jump back for ``while True``). A jump carrying its
own position, the width of its keyword, is a ``break``/``continue``; the
compiler's own jumps (threaded to a loop head, past an ``else``) are not.

Each Python version's instructions are in one table (bytecode_ops.py); the
handlers of value instructions in bytecode_exprs.py. What cannot be rebuilt
raises UnsupportedError naming the construct and its line.
"""

import ast
import dis
import sys

from ..errors import UnsupportedError
from .bytecode_exprs import ExprHandlers, _last_at
from .bytecode_ops import OPS

__all__ = ["function_def"]

_TESTS = ("jump_if_false", "jump_if_true", "jump_if_none", "jump_if_not_none")


class _NotExpr(Exception):
    """A region is not a pure expression (it stores, returns or jumps)."""


class _Marker:
    """A stack entry that is no value: NULL, a for loop's iterator."""

    def __init__(self, kind):
        self.kind = kind


class _Loop:
    def __init__(self, kind, head, exit_, body_end):
        self.kind = kind           # 'for' | 'while'
        self.head = head           # the index 'continue' jumps to
        self.exit = exit_          # the index 'break' jumps to
        self.body_end = body_end   # where the body ends


class _Decompiler(ExprHandlers):
    NULL = _Marker("null")
    Marker = _Marker
    NotExpr = _NotExpr

    def __init__(self, fn):
        self.fn = fn
        self.code = fn.__code__
        self.file = self.code.co_filename
        self.ops = OPS.get(sys.version_info[:2])
        if self.ops is None:
            raise UnsupportedError(
                f"{self.file}:{self.code.co_firstlineno}: {fn.__qualname__} has no source, and "
                f"rebuilding it from bytecode needs Python 3.11 to 3.13 (this is "
                f"{sys.version_info[0]}.{sys.version_info[1]})")
        self.null_first = sys.version_info < (3, 13)   # where LOAD_GLOBAL puts NULL
        skip = ("CACHE", "RESUME", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "NOT_TAKEN")
        every = []
        for ins in dis.get_instructions(self.code):
            if self.ops.get(ins.opname) == "split":
                # 3.13's pairs (LOAD_FAST_LOAD_FAST, STORE_FAST_LOAD_FAST...):
                # two instructions, the second at an odd offset no jump uses
                first, second = ins.opname.split("_", 2)[:2], ins.opname.split("_")[2:]
                names = (f"{first[0]}_{first[1]}", "_".join(second))
                every.append(ins._replace(opname=names[0], argval=ins.argval[0]))
                every.append(ins._replace(opname=names[1], argval=ins.argval[1],
                                          offset=ins.offset + 1, argrepr="second"))
            else:
                every.append(ins)
        self.ins = [i for i in every if i.opname not in skip]
        self.index = {}          # offset -> index (a skipped one: the next kept one)
        k = len(self.ins)
        for ins in reversed(every):
            if ins.opname not in skip:
                k -= 1
            self.index[ins.offset] = k
        self.jumps_to = {}       # index -> the unconditional jumps to it
        for k, ins in enumerate(self.ins):
            if self.ops.get(ins.opname) == "jump" and ins.argval in self.index:
                self.jumps_to.setdefault(self.index[ins.argval], []).append(k)
        self.at_position = {}    # positions -> the indices that carry them
        for k, ins in enumerate(self.ins):
            self.at_position.setdefault(tuple(ins.positions or ()), []).append(k)
        self.stack = []
        self.kwnames = None
        self.loops = []
        self.pure = 0            # > 0 while rebuilding a value: no statements
        self.out = []            # the statement list being filled
        self.fall_over = {}      # jump index -> where its test falls through to
        self.skip_to = {}        # index -> where to go on instead (copies rebuilt once)
        # the compiler's `return None` blocks (copied to each branch that
        # ends the function): jumps to any of them go to the same place
        self.returns = set()
        for k, ins in enumerate(self.ins):
            if (ins.opname == "RETURN_CONST" and ins.argval is None) or \
                    (ins.opname == "LOAD_CONST" and ins.argval is None and k + 1 < len(self.ins)
                     and self.ins[k + 1].opname == "RETURN_VALUE"):
                ret = k if ins.opname == "RETURN_CONST" else k + 1
                if not self.is_keyword(ret, None, (k, ret)):
                    self.returns.add(k)

    # -- helpers --

    def line(self, k):
        ins = self.ins[min(k, len(self.ins) - 1)]
        p = ins.positions
        return p.lineno if p is not None and p.lineno else self.code.co_firstlineno

    def fail(self, k, what):
        return UnsupportedError(
            f"{self.file}:{self.line(k)}: {what} is not supported when compiling without "
            f"source ({self.fn.__qualname__} has none: it was made by exec, python -c or "
            f"the interactive interpreter, and is rebuilt from its bytecode)")

    def op(self, k):
        return self.ops.get(self.ins[k].opname) if 0 <= k < len(self.ins) else None

    def target(self, k):
        t = self.ins[k].argval
        if t not in self.index:
            raise self.fail(k, f"a jump to offset {t}")
        return self.index[t]

    def same_place(self, a, b):
        """Jumps to a and to b go to the same place: the same instruction,
        two copies of the function's `return None`, or two of the
        compiler's jumps to one place (3.12 copies the jump back of a loop)."""
        if a == b or (a in self.returns and b in self.returns):
            return True
        return self.op(a) == "jump" and self.op(b) == "jump" and \
            self.target(a) == self.target(b) and not self.is_break_continue(a) and \
            not self.is_break_continue(b)

    def fall(self, j):
        return self.fall_over.get(j, j + 1)

    def pop(self, k):
        if not self.stack:
            raise self.fail(k, f"'{self.ins[k].opname}' here")
        return self.stack.pop()

    def push(self, node, k):
        if not isinstance(node, _Marker) and not hasattr(node, "_start"):
            node._start = k
        self.stack.append(node)

    def const(self, value, ins):
        """A constant as the parser writes it: -1 is -(1), (1, 2) a Tuple."""
        p = ins.positions
        if isinstance(value, tuple):
            node = ast.Tuple(elts=[self.const(v, ins) for v in value], ctx=ast.Load())
        elif isinstance(value, (int, float, complex)) and not isinstance(value, bool) and \
                str(value).startswith("-") and not (isinstance(value, complex) and value.real):
            inner = self.const(-value, ins)
            node = ast.UnaryOp(op=ast.USub(), operand=inner)
            if p is not None and p.col_offset is not None:
                inner.col_offset = p.col_offset + 1
        else:
            node = ast.Constant(value=value)
        if p is not None and p.lineno is not None:
            node.lineno, node.col_offset = p.lineno, p.col_offset or 0
            node.end_lineno, node.end_col_offset = p.end_lineno, p.end_col_offset
        return node

    def is_keyword(self, k, width, group=None):
        """Instruction k carries a statement's own position: a keyword of
        `width` characters (break 5, continue 8; None: any) on one line,
        not a position the compiler copied from another statement."""
        if k < 0:
            return False
        p = self.ins[k].positions
        if p is None or p.lineno is None or p.lineno != p.end_lineno:
            return False
        if width is not None and p.end_col_offset - p.col_offset != width:
            return False
        # its own: no instruction outside the statement's carries it
        # (group: POP_TOP + JUMP of a break, LOAD_CONST + RETURN_VALUE)
        group = (k,) if group is None else group
        return all(i in group for i in self.at_position[tuple(p)])

    def is_break(self, k):
        """POP_TOP of a for loop's iterator at k: a break (it leaves the
        loop), not the clean-up before a return."""
        loop = self.loops[-1] if self.loops else None
        if loop is None or not self.is_keyword(k, 5, (k, k + 1, k + 2)):
            return False
        # then the jump out, the exit itself, or (3.11+) a copy of the
        # function's `return None` the compiler put there
        return self.op(k + 1) == "jump" or k + 1 >= loop.exit or k + 1 in self.returns

    def emit(self, node):
        if self.pure:
            raise _NotExpr
        self.out.append(node)

    def boolop(self, op, a, b):
        return _boolop(op, a, b)

    def attr_is_method(self, ins):
        return sys.version_info >= (3, 12) and ins.arg is not None and ins.arg & 1

    def store(self, k, target, value):
        """An assignment: plain, chained (x = y = v: the value copied) or of
        a tuple whose values are on the stack (a, b = b, a)."""
        if getattr(value, "_capture", False):     # an unpacking's target (store_target)
            self.captured.append(target)
            return
        if self.pure:
            raise _NotExpr
        pend = self.pending
        if pend is not None and (pend[1] is value or pend[2]):
            pend[0].append((target, value))
        else:
            pend = self.pending = [[(target, value)], value, False]
        if any(v is value for v in self.stack[self.base:]):
            return                                   # more targets of this value
        extra = [v for v in self.stack[self.base:] if not isinstance(v, _Marker)]
        if extra and not pend[2] and pend[1] is value and len(pend[0]) == 1:
            pend[2] = True                           # a tuple assignment on the stack
            pend[1] = None
            return
        self.pending = None
        pairs = pend[0]
        if pend[2]:
            pairs.sort(key=lambda tv: tv[1]._start)
            _space_names([t for t, _ in pairs])
            _space_names([v for _, v in pairs])
            tgt = ast.Tuple(elts=[t for t, _ in pairs], ctx=ast.Store())
            val = ast.Tuple(elts=[v for _, v in pairs], ctx=ast.Load())
            _copy_loc(tgt, min((t for t, _ in pairs), key=lambda t: t.col_offset))
            _copy_loc(val, pairs[0][1])
            node = _copy_loc(ast.Assign(targets=[tgt], value=val), tgt)
        else:
            value = pairs[0][1]
            targets = [t for t, _ in pairs]
            if len(targets) == 1 and getattr(value, "_inplace", False) and \
                    isinstance(value, ast.BinOp):
                node = ast.AugAssign(target=targets[0], op=value.op, value=value.right)
                _copy_loc(node, value)
            else:
                node = ast.Assign(targets=targets, value=value)
                _copy_loc(node, targets[0])
                node.col_offset = min(t.col_offset for t in targets)
        self.out.append(node)

    pending = None
    base = 0

    # -- statements --

    def block(self, k, end):
        """The statements of instructions [k, end)."""
        saved_out, saved_stack = self.out, list(self.stack)
        self.out = []
        try:
            while k < end:
                nxt = self.statement(k, end)
                nxt = self.skip_to.get(nxt, nxt)     # past a copy already rebuilt
                if nxt <= k:             # no progress: a shape this module does not know
                    raise self.fail(k, "this control flow")
                k = nxt
            if self.pending is not None:
                raise self.fail(k - 1, "this assignment")
            return _attach_else(self.out)
        finally:
            self.out, self.stack = saved_out, saved_stack

    def statement(self, k, end):
        """Rebuilds the statement starting at k; returns where the next starts."""
        self.base = len(self.stack)
        n_out = len(self.out)
        if self.op(k) == "nop" and self.ins[k].opname == "NOP":
            j = self.while_true_at(k + 1)
            if j is not None:
                return self.while_true(k + 1, j, k)
            return k + 1
        j = k
        while j < end:
            h = self.op(j)
            if h in _TESTS and len(self.stack) == self.base + 1:
                r = self.if_or_while(self.stack[-1]._start, j, end)
                if r[0] == "value":          # a ternary: the statement goes on
                    j = r[1]
                    continue
                return r[1]
            if h == "jump":
                if len(self.stack) != self.base:
                    raise self.fail(j, "a jump inside an expression")
                return self.jump(j, end)
            if h == "for_iter":
                return self.for_loop(j, end)
            if h in _TESTS:
                j = self.value_ternary(j)
                continue
            nxt = self.step(j)
            j = nxt if nxt is not None else j + 1
            if len(self.out) > n_out and self.pending is None and \
                    len(self.stack) <= self.base:
                return j
        if len(self.stack) == self.base and self.pending is None:
            return j        # a NOP or a TO_BOOL-like instruction ended the block
        raise self.fail(k, "a statement running past its block")

    def step(self, k):
        """Runs instruction k on the symbolic stack: None to go on at k + 1,
        or the index to go on at."""
        ins = self.ins[k]
        h = self.ops.get(ins.opname)
        if h is None:
            raise self.fail(k, f"the operation '{ins.opname}'")
        if h in ("jump", "for_iter") or h in _TESTS:
            if self.pure:
                raise _NotExpr
            raise self.fail(k, "this control flow")
        return getattr(self, "op_" + h)(k, ins)

    def jump(self, j, end):
        """An unconditional jump at statement level: break, continue, or the
        compiler's jump to where the block goes on."""
        loop = self.loops[-1] if self.loops else None
        if loop is not None:
            t = self.target(j)
            if t == loop.head and self.is_keyword(j, 8):
                self.out.append(_at(ast.Continue(), self.ins[j]))
            elif t >= loop.exit and self.is_keyword(j, 5):
                self.out.append(_at(ast.Break(), self.ins[j]))
        return j + 1

    def is_break_continue(self, j):
        loop = self.loops[-1] if self.loops else None
        if loop is None:
            return False
        t = self.target(j)
        if t >= loop.exit and loop.kind == "for" and self.ins[j - 1].opname == "POP_TOP" and \
                self.is_keyword(j - 1, 5, (j - 1, j)):
            return True        # break: the iterator popped, then the jump
        return (t == loop.head and self.is_keyword(j, 8)) or \
            (t >= loop.exit and self.is_keyword(j, 5))

    # -- if / while / ternary --

    def conds(self, k, j):
        """The test starting at k whose first jump is at j: (test, target,
        body start), a chain of jumps merged into and/or."""
        chain = _Conds(self)
        nxt = chain.add(self.stack.pop(), j)
        while not chain.done(nxt):
            jj, value = self.cond_expr(nxt)
            if jj is None:
                break
            nxt = chain.add(value, jj)
        return chain.result(k)

    def cond_expr(self, k):
        """One more test starting at k, ending in a conditional jump:
        (index of the jump, value), or (None, None)."""
        saved = list(self.stack)
        base = len(self.stack)
        self.pure += 1
        try:
            j = k
            while j < len(self.ins):
                h = self.op(j)
                if h in _TESTS and len(self.stack) == base + 1:
                    value = self.stack.pop()
                    value._start = k
                    return j, value
                if h in _TESTS:
                    j = self.value_ternary(j)
                    continue
                n = self.step(j)
                j = n if n is not None else j + 1
            raise _NotExpr
        except (_NotExpr, UnsupportedError):
            self.stack[:] = saved
            return None, None
        finally:
            self.pure -= 1

    def if_or_while(self, k, j, end):
        """The if/while statement (or the ternary value) whose test starts
        at k, first jump at j. Returns ('stmt', next) or ('value', next)."""
        test, target, body = self.conds(k, j)
        pos = self.ins[j]
        if target <= j and not (target < body and self.op(target) == "jump"):
            raise self.fail(j, "this loop")
        tail = target - 1
        while tail > body and (tail in self.returns or tail - 1 in self.returns):
            tail -= 1       # copies of the function's `return None` after the loop
        # while: the test repeated at the end jumps back to the body
        if tail > body and self.op(tail) in _TESTS + ("jump",) and \
                self.target(tail) in (body, k) and not self.is_break_continue(tail) and \
                not (self.loops and self.loops[-1].head == k):
            tail_start = self.while_tail(k, body, tail, target)
            self.loops.append(_Loop("while", k, target, tail_start))
            try:
                stmts = self.block(body, tail_start)
            finally:
                self.loops.pop()
            node = _at(ast.While(test=test, body=stmts or [_pass(test)], orelse=[]), pos)
            _keyword_col(node, test, 6)
            self.out.append(node)
            return ("stmt", target)
        if self.is_ternary(body, target):
            return ("value", self.ternary(test, k, body, target))
        # if: a body ending in the compiler's jump past the else (or back to
        # the loop head, when the if ends the loop body) has an else
        loop = self.loops[-1] if self.loops else None
        if target < body:
            # 3.12+: the test's false side is the compiler's jump (to the
            # loop head, or past the body) just before the body
            t = self.target(target)
            stop = t if t > body else (loop.body_end if loop is not None and
                                       t == loop.head else end)
            stop = min(stop, end)
            stmts = self.block(body, stop)
            node = _at(ast.If(test=test, body=stmts or [_pass(test)], orelse=[]), pos)
            _keyword_col(node, test, 3)
            self.out.append(_assert(node))
            return ("stmt", stop)
        last = target - 1
        stop, body_end = target, target
        if target > body and self.op(last) == "jump" and not self.is_break_continue(last):
            t = self.target(last)
            if t > target:
                stop, body_end = min(t, end), last
            elif loop is not None and t == loop.head and target < loop.body_end:
                stop, body_end = min(loop.body_end, end), last
        stmts = self.block(body, body_end)
        orelse = self.block(target, stop) if stop > target else []
        node = _at(ast.If(test=test, body=stmts or [_pass(test)], orelse=orelse), pos)
        _keyword_col(node, test, 3)
        _mark_elif(node)
        self.out.append(_assert(node))
        return ("stmt", stop)

    def while_tail(self, k, body, tail, target):
        """Where the test repeated after a while loop's body starts: 3.11
        jumps back with it (POP_JUMP_BACKWARD_IF_TRUE), 3.12 tests then
        jumps back (test; POP_JUMP_IF_FALSE exit; JUMP_BACKWARD body);
        without a copy, the closing jump goes to the test itself."""
        n = body - k
        if self.op(tail) != "jump":
            return tail + 1 - n
        if self.target(tail) == body and tail - n > body and \
                [i.opname for i in self.ins[tail - n:tail - 1]] == \
                [i.opname for i in self.ins[k:body - 1]]:
            return tail - n
        return tail

    def is_ternary(self, body, target):
        last = target - 1
        return last > body and self.op(last) == "jump" and self.target(last) > target and \
            self.pure_value(body, last) and self.pure_value(target, self.target(last))

    def pure_value(self, k, end):
        saved = list(self.stack)
        try:
            self.region_value(k, end)
            return True
        except (_NotExpr, UnsupportedError):
            return False
        finally:
            self.stack = saved

    def region_value(self, k, end):
        """The one value instructions [k, end) compute."""
        base = len(self.stack)
        self.pure += 1
        try:
            j = k
            while j < end:
                if self.op(j) in _TESTS:
                    j = self.value_ternary(j)
                    continue
                n = self.step(j)
                j = n if n is not None else j + 1
            if len(self.stack) != base + 1 or j != end:
                raise _NotExpr
            return self.stack.pop()
        finally:
            self.pure -= 1

    def value_ternary(self, j):
        """A conditional jump inside an expression: a ternary."""
        k = self.stack[-1]._start
        test, target, body = self.conds(k, j)
        if self.is_ternary(body, target):
            return self.ternary(test, k, body, target)
        shared = self.copied_tail(body, target)
        if shared is None:
            raise self.fail(j, "this conditional expression")
        # 3.12+: what follows the value (to the return) copied into both arms
        tail, end_a, end_b = shared
        yes = self.region_value(body, tail)
        no = self.region_value(target, end_b - (end_a - tail))
        node = _copy_loc(ast.IfExp(test=test, body=yes, orelse=no), yes)
        node._start = k
        self.stack.append(node)
        self.skip_to[end_a + 1] = end_b + 1
        return tail

    def copied_tail(self, body, target):
        """Arms [body, target) and [target, ...) that both end in a return
        through the same instructions (same names, same positions): (where
        the shared part starts in the first arm, the two returns)."""
        rets = ("return_value", "return_const")
        end_a = target - 1
        if self.op(end_a) not in rets:
            return None
        end_b = next((i for i in range(target, len(self.ins)) if self.op(i) in rets), None)
        if end_b is None:
            return None
        same = lambda a, b: (a.opname, a.argval, a.positions) == (b.opname, b.argval, b.positions)
        n = 0
        while end_a - n > body and end_b - n > target and \
                same(self.ins[end_a - n], self.ins[end_b - n]):
            n += 1
        if n == 0:
            return None
        return end_a - n + 1, end_a, end_b

    def ternary(self, test, k, body, target):
        last = target - 1
        end = self.target(last)
        yes = self.region_value(body, last)
        no = self.region_value(target, end)
        node = ast.IfExp(test=test, body=yes, orelse=no)
        _copy_loc(node, yes)
        node._start = k
        self.stack.append(node)
        return end

    # -- loops --

    def while_true_at(self, k):
        """A `while True` loop whose body starts at k: the index of its
        closing jump back (the last one to k), else None."""
        if self.loops and self.loops[-1].head == k:
            return None
        if len(self.stack) != self.base:
            return None
        back = [j for j in self.jumps_to.get(k, ()) if j > k and not self.is_keyword(j, 8)]
        return max(back) if back else None

    def while_true(self, k, j, nop):
        pos = self.ins[nop] if nop is not None else self.ins[k]
        self.loops.append(_Loop("while", k, j + 1, j))
        try:
            stmts = self.block(k, j)
        finally:
            self.loops.pop()
        test = _at(ast.Constant(value=True), pos)
        node = _at(ast.While(test=test, body=stmts or [_pass(test)], orelse=[]), pos)
        p = pos.positions
        if p is not None and p.lineno == p.end_lineno and p.end_col_offset - p.col_offset == 4:
            node.col_offset = max(0, p.col_offset - 6)    # 3.13: the NOP is at `True`
        test.col_offset = node.col_offset + 6
        self.out.append(node)
        return j + 1

    def for_loop(self, j, end):
        it = self.pop(j)
        exit_ = self.target(j)
        after = exit_
        if after < len(self.ins) and self.ins[after].opname == "END_FOR":
            after += 1
            if sys.version_info >= (3, 13) and after < len(self.ins) and \
                    self.ins[after].opname == "POP_TOP":
                after += 1
        # the closing jump back (a trailing `continue` is the same jump);
        # after it may lie copies of the function's `return None`
        back = exit_ - 1
        while back > j and (back in self.returns or back - 1 in self.returns):
            back -= 1
        body_end = exit_
        if self.op(back) == "jump" and self.target(back) == j:
            body_end = back
        self.stack.append(_Marker("iter"))
        targets = []
        k = self.store_target(j + 1, targets)
        self.loops.append(_Loop("for", j, exit_, body_end))
        try:
            body = self.block(k, body_end)
        finally:
            self.loops.pop()
            self.stack.pop()
        node = _at(ast.For(target=targets[0], iter=it, body=body or [_pass(it)], orelse=[]),
                   self.ins[j])
        node.lineno, node.col_offset = targets[0].lineno, max(0, targets[0].col_offset - 4)
        self.out.append(node)
        return after

    def store_target(self, k, targets):
        """The assignment target at k (a name, subscript or attribute, or an
        unpacking of them) appended to targets; returns the index after it."""
        h = self.op(k)
        ins = self.ins[k]
        if h == "unpack":
            elts = []
            k += 1
            for _ in range(ins.arg):
                k = self.store_target(k, elts)
            node = _at(ast.Tuple(elts=elts, ctx=ast.Store()), ins)
            if elts:
                _last_at(node, elts[-1])
                node.col_offset = min(e.col_offset for e in elts)
            targets.append(node)
            return k
        if h == "store_name":
            name = _at(ast.Name(id=ins.argval, ctx=ast.Store()), ins)
            name._approx = ins.argrepr == "second"
            targets.append(name)
            return k + 1
        # a subscript or attribute: its loads, then the store, which takes
        # the item (a placeholder) as its value
        item = ast.Name(id="$item", ctx=ast.Load())
        item._capture, item._start = True, k
        self.stack.append(item)
        self.captured = []
        j = k
        while not self.captured and j < len(self.ins):
            if self.op(j) not in ("load_name", "load_global", "load_const", "load_attr", "subscr",
                                  "build_tuple", "binary_op", "store_subscr", "store_attr",
                                  "store_slice"):
                raise self.fail(k, f"this assignment target ({self.ins[j].opname})")
            n = self.step(j)
            j = n if n is not None else j + 1
        targets.append(self.captured.pop())
        return j


class _Conds:
    """A chain of conditional jumps merged into one test. A node
    [F, target, start, fall]: falls through to `fall` when F holds, else
    goes to `target`. Two nodes merge when nothing else jumps into the
    second: the same target means `F1 and F2`; the first jumping to where
    the second falls through means `not F1 or F2`."""

    def __init__(self, dec):
        self.dec = dec
        self.nodes = []

    def add(self, value, j):
        d = self.dec
        h = d.op(j)
        ins = d.ins[j]
        if h == "jump_if_true":
            f = _not(value)
        elif h in ("jump_if_none", "jump_if_not_none"):
            none = _at(ast.Constant(value=None), ins)
            op = ast.IsNot() if h == "jump_if_none" else ast.Is()
            f = _copy_loc(ast.Compare(left=value, ops=[op], comparators=[none]), value)
        else:
            f = value
        target, fall = d.target(j), d.fall(j)
        if d.op(j + 1) == "jump" and target == j + 2 and not d.is_break_continue(j + 1):
            # 3.12+: `if not F: goto next; goto T` for `if F: ... (else T)`
            f, target, fall = _not(f), j + 1, j + 2
        self.nodes.append([f, target, value._start, fall])
        self.reduce()
        return fall

    def reduce(self):
        nodes = self.nodes
        while len(nodes) >= 2:
            n1, n2 = nodes[-2], nodes[-1]
            if any(n[1] == n2[2] for n in nodes[:-1]):
                return               # something else jumps into n2
            same = self.dec.same_place
            if same(n1[1], n2[1]):
                f = _boolop(ast.And, n1[0], n2[0])
                n2[1] = min(n1[1], n2[1])
            elif same(n1[1], n2[3]):
                f = _boolop(ast.Or, _not(n1[0]), n2[0])
            else:
                return
            nodes[-2:] = [[f, n2[1], n1[2], n2[3]]]

    def done(self, nxt):
        if len(self.nodes) > 1:
            return False
        d = self.dec
        if nxt >= len(d.ins) or d.op(nxt) in ("jump", "for_iter", None):
            return True
        # `if a and b:` and `if a:` + `if b:` compile alike: the line decides
        return d.line(nxt) != d.line(self.nodes[0][3] - 1)

    def result(self, k):
        if len(self.nodes) != 1:
            raise self.dec.fail(k, "this condition")
        f, target, _, fall = self.nodes[0]
        return f, target, fall


def _at(node, ins):
    p = ins.positions
    if p is not None and p.lineno is not None:
        node.lineno, node.col_offset = p.lineno, p.col_offset or 0
        node.end_lineno, node.end_col_offset = p.end_lineno, p.end_col_offset
    return node


def _copy_loc(node, src):
    for a in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if hasattr(src, a):
            setattr(node, a, getattr(src, a))
    return node


def _space_names(elts):
    """3.13: the second of a pair of stores has the first's position; names
    in `a, b = ...` are `, ` apart."""
    for i, e in enumerate(elts):
        if not getattr(e, "_approx", False) or not isinstance(e, ast.Name):
            continue
        if i + 1 < len(elts) and not getattr(elts[i + 1], "_approx", False):
            e.col_offset = elts[i + 1].col_offset - 2 - len(e.id)
        elif i > 0 and isinstance(elts[i - 1], ast.Name):
            e.col_offset = elts[i - 1].col_offset + len(elts[i - 1].id) + 2
        e.end_col_offset = e.col_offset + len(e.id)
        e._approx = False


def _pass(near):
    return _copy_loc(ast.Pass(), near)


def _keyword_col(node, test, width):
    """A statement's line and column: its jump's position when that spans
    the statement (several lines, starting before the test), else the
    keyword (`width`, with its space) before the test."""
    span = getattr(node, "end_lineno", None) not in (None, node.lineno)
    if not span or node.lineno != test.lineno or node.col_offset >= test.col_offset:
        node.lineno = test.lineno
        node.col_offset = max(0, test.col_offset - width)


_FLIP = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _not(node):
    """not node, as the source most likely wrote it: `not not x` is x,
    `not (x is None)` is `x is not None`, and `not (not a or not b)` is
    `a and b` (the compiler's jumps give the negated forms)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return node.operand
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
        r = _copy_loc(ast.Compare(left=node.left, ops=[_FLIP[type(node.ops[0])]()],
                                  comparators=node.comparators), node)
        r._start = getattr(node, "_start", 0)
        return r
    if isinstance(node, ast.BoolOp):
        negated = sum(isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.Not) for v in node.values)
        if 2 * negated >= len(node.values):
            other = ast.And if isinstance(node.op, ast.Or) else ast.Or
            r = _copy_loc(ast.BoolOp(op=other(), values=[_not(v) for v in node.values]), node)
            r._start = getattr(node, "_start", 0)
            return r
    r = _copy_loc(ast.UnaryOp(op=ast.Not(), operand=node), node)
    r._start = getattr(node, "_start", 0)
    return r


def _boolop(op, a, b):
    values = []
    for v in (a, b):
        if isinstance(v, ast.BoolOp) and isinstance(v.op, op):
            values.extend(v.values)
        else:
            values.append(v)
    r = _copy_loc(ast.BoolOp(op=op(), values=values), a)
    r._start = getattr(a, "_start", 0)
    return r


def _terminal(stmts):
    return bool(stmts) and isinstance(stmts[-1], (ast.Return, ast.Break, ast.Continue))


def _assert(node):
    """`if not c: raise AssertionError(msg)` made by `assert c, msg`."""
    if node.orelse or len(node.body) != 1 or not isinstance(node.body[0], ast.Raise):
        return node
    exc = node.body[0].exc
    msg = None
    if isinstance(exc, ast.Call) and len(exc.args) == 1 and not exc.keywords:
        exc, msg = exc.func, exc.args[0]
    if not getattr(exc, "_assert", False):
        return node
    r = _copy_loc(ast.Assert(test=_not(node.test), msg=msg), node)
    r.col_offset = max(0, r.test.col_offset - 7)
    return r


def _mark_elif(node):
    """An else holding one if whose test stands where `elif ` puts it is an
    elif: its column is the if's (as the parser has it)."""
    real = [s for s in node.orelse if not getattr(s, "_implicit", False)]
    if len(real) == 1 and real[0] is node.orelse[0] and isinstance(real[0], ast.If) and \
            real[0].test.col_offset == node.col_offset + 5:
        real[0].col_offset = node.col_offset


def _same_return(a, b):
    """Two returns of values from the same return statement's position."""
    return isinstance(a, ast.Return) and isinstance(b, ast.Return) and \
        a.value is not None and b.value is not None and \
        getattr(a, "_pos", None) is not None and a._pos == getattr(b, "_pos", None)


def _same_store(s, a, b):
    """Two assignments from the same statement's store (their targets'
    positions are the same), on the if's line."""
    if not (isinstance(a, ast.Assign) and isinstance(b, ast.Assign)) or \
            len(a.targets) != 1 or len(b.targets) != 1:
        return False
    ta, tb = a.targets[0], b.targets[0]
    where = lambda n: (n.lineno, n.col_offset, getattr(n, "end_lineno", None),
                       getattr(n, "end_col_offset", None))
    return ast.dump(ta) == ast.dump(tb) and where(ta) == where(tb) and \
        ta.lineno == s.test.lineno


def _attach_else(stmts):
    """`if c: return a` + `else: ...` (or `elif`) compiles as the if
    followed by the else's statements: those indented deeper than the if
    (their columns) are its else."""
    out = []
    k = 0
    while k < len(stmts):
        s = stmts[k]
        k += 1
        if isinstance(s, ast.If) and not s.orelse and len(s.body) == 1 and k < len(stmts) and \
                _same_return(s.body[0], stmts[k]):
            # `return a if c else b`: 3.12 returns from each branch
            r = stmts[k]
            k += 1
            value = _copy_loc(ast.IfExp(test=s.test, body=s.body[0].value, orelse=r.value),
                              s.body[0].value)
            s = _copy_loc(ast.Return(value=value), r)
            s.col_offset = r._pos[2]
        elif isinstance(s, ast.If) and not s.orelse and 1 <= len(s.body) <= 2 and \
                k < len(stmts) and _same_store(s, s.body[0], stmts[k]) and \
                all(getattr(x, "_implicit", False) for x in s.body[1:]):
            # `t = a if c else b` ending the function: 3.12 copies the store
            # (and the return) into each branch
            r = stmts[k]
            k += 1
            value = _copy_loc(ast.IfExp(test=s.test, body=s.body[0].value, orelse=r.value),
                              s.body[0].value)
            s = _copy_loc(ast.Assign(targets=r.targets, value=value), r)
        elif isinstance(s, ast.If) and not s.orelse and _terminal(s.body):
            rest = []
            while k < len(stmts) and stmts[k].col_offset > s.col_offset and \
                    stmts[k].lineno > s.lineno:
                rest.append(stmts[k])
                k += 1
            if rest:
                s.orelse = _attach_else(rest)
                _mark_elif(s)
        out.append(s)
    return out


def _drop_implicit_returns(body, in_loop=False):
    """The compiler's `return None` (at the end, and copied into the
    branches that end the function) is no statement of the source; inside
    a loop it leaves the function, so it stays a return there."""
    out = []
    for s in body:
        if isinstance(s, ast.Return) and getattr(s, "_implicit", False) and not in_loop:
            continue
        if isinstance(s, ast.If):
            s.body = _drop_implicit_returns(s.body, in_loop) or [_pass(s)]
            s.orelse = _drop_implicit_returns(s.orelse, in_loop)
        elif isinstance(s, (ast.For, ast.While)):
            s.body = _drop_implicit_returns(s.body, True) or [_pass(s)]
        out.append(s)
    return out


def function_def(fn):
    """(SourceInfo, ast.FunctionDef) of fn, rebuilt from its code object."""
    from .frontend import SourceInfo
    dec = _Decompiler(fn)
    code = dec.code
    try:
        body = _drop_implicit_returns(dec.block(0, len(dec.ins)))
    except RecursionError:
        raise UnsupportedError(
            f"{dec.file}:{code.co_firstlineno}: {fn.__qualname__} nests too deeply to be "
            "rebuilt from its bytecode (it has no source)") from None
    doc = fn.__doc__
    if isinstance(doc, str) and doc in code.co_consts:
        body.insert(0, ast.Expr(value=ast.Constant(value=doc)))    # the docstring
    nargs, names, flags = code.co_argcount, code.co_varnames, code.co_flags
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in names[:nargs]],
                         vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    args.defaults = [ast.Constant(value=v) for v in (fn.__defaults__ or ())]
    extra = nargs + code.co_kwonlyargcount
    args.kwonlyargs = [ast.arg(arg=a) for a in names[nargs:extra]]
    if flags & inspect_flags.VARARGS:
        args.vararg = ast.arg(arg=names[extra])
    if flags & inspect_flags.VARKEYWORDS:
        args.kwarg = ast.arg(arg=names[extra + bool(flags & inspect_flags.VARARGS)])
    if not body:
        # `pass` (or a docstring alone): where the compiler's return stands
        last = dec.ins[-1] if dec.ins else None
        body = [_at(ast.Pass(), last) if last is not None else ast.Pass()]
    fdef = ast.FunctionDef(name=fn.__name__, args=args, body=body,
                           decorator_list=[], returns=None, type_comment=None)
    if "type_params" in ast.FunctionDef._fields:      # 3.12+
        fdef.type_params = []
    # co_firstlineno is the first decorator's line: the def is (most
    # likely) the line before the body, and its docstring
    first = min((ins.positions.lineno for ins in dec.ins
                 if ins.positions is not None and ins.positions.lineno), default=0)
    def_line = first - 1 - (doc.count("\n") + 1 if isinstance(doc, str) and body and
                            isinstance(body[0], ast.Expr) else 0)
    fdef.lineno, fdef.col_offset = max(code.co_firstlineno, def_line), 0
    if body and isinstance(body[0], ast.Expr) and getattr(body[0], "lineno", None) is None:
        # the docstring: the line after the def, indented as the body
        indent = next((b.col_offset for b in body[1:] if hasattr(b, "col_offset")), 4)
        body[0].lineno, body[0].col_offset = fdef.lineno + 1, indent
        body[0].value.lineno, body[0].value.col_offset = fdef.lineno + 1, indent
    for node in ast.walk(fdef):
        if isinstance(node, (ast.expr, ast.stmt)) and not hasattr(node, "lineno"):
            node.lineno, node.col_offset = code.co_firstlineno, 0
    return SourceInfo(code.co_filename, 1, [], 0), fdef


class inspect_flags:
    VARARGS = 0x04
    VARKEYWORDS = 0x08
