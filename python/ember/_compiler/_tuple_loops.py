"""Loops over tuples for the front end's _Builder (frontend.py), kept apart
from the walker: ``for x in t`` over a tuple of known length, and
``enumerate()`` / ``zip()`` over tuples (nested too), unrolled as numba
unrolls them into an if chain inside ``for k in range(n)``; loops of
enumerate/zip over arrays (for_items) run at run time. Each method returns
the builder's tuple trees and raises its errors (naming file:line:col).
"""

import ast

from ..errors import TypingError, UnsupportedError


def _walk_loop_body(stmts):
    """The nodes of a loop body, not descending into nested loops (whose
    break/continue are their own)."""
    todo = list(stmts)
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
                todo.append(child)


class TupleLoops:
    """Methods of frontend._Builder (a mixin: `self` is the builder)."""

    def tuple_loop(self, s):
        """``for x in t`` over a tuple of known length n (numba unrolls it):
        ``for k in range(n): if k == 0: x = t[0]; body elif k == 1: ...``,
        so each item may have its own type and break/continue keep their
        meaning. None when `s.iter` is not such a tuple."""
        line, col = self.loc(s)
        try:
            t = self.expr(s.iter)
        except (UnsupportedError, TypingError):
            return None
        n = self.arity(t)
        if n is None or n < 0:
            return None
        if t[0] != "load" and t[0] != "tuple" and not self.pure(t):
            return None
        pre = []
        src = self.tuple_once(t, line, col, pre)
        return self.unrolled_loop(s, n, lambda i: self.tuple_item(src, i, line, col), pre)

    def tuple_once(self, t, line, col, pre):
        """A tuple expression evaluated once: itself when a load or a tuple
        literal, else a temporary assigned in `pre`."""
        if t[0] in ("load", "tuple"):
            return t
        slot = self.temp()
        self.record_arity(slot, t)
        pre.append(("assign", line, col, slot, t))
        return ("load", line, col, slot)

    @staticmethod
    def tuple_item(src, i, line, col):
        return src[3][i] if src[0] == "tuple" else ("tuple_get", line, col, src, i)

    def unrolled_loop(self, s, n, item_of, pre):
        """The loop of tuple_loop: the target bound to item_of(k) in the k-th
        branch of an if chain inside ``for k in range(n)``."""
        line, col = self.loc(s)
        k = self.temp()
        self.record_arity(k, ("const", line, col, "weak_int", 0))
        chain = None
        self.loop_depth += 1
        for i in reversed(range(n)):
            r = self.assign_to(s.target, item_of(i), s.iter)
            body = self.block(s.body, s)
            stmts = (r if isinstance(r, list) else [r]) + list(body[3])
            branch = ("block", line, col, stmts)
            test = ("compare", line, col, "eq", ("load", line, col, k),
                    ("const", line, col, "weak_int", i))
            chain = ("if", line, col, test, branch,
                     None if chain is None else ("block", line, col, [chain]))
        self.loop_depth -= 1
        zero = ("const", line, col, "weak_int", 0)
        one = ("const", line, col, "weak_int", 1)
        body = ("block", line, col, [chain] if chain else [])
        loop = ("for_range", line, col, k, zero, ("const", line, col, "weak_int", n), one, body)
        return pre + [loop] if pre else loop

    def for_items(self, s, it, enumerate_ok=False):
        """``for v in a``, ``for i, v in enumerate(a)``, ``for x, y in zip(a, b)``
        over arrays, nested too (``enumerate(zip(a, b))``, ``zip(enumerate(a),
        b)``): a loop over range(len(a)) (the shortest for zip) that binds the
        items first; each array is evaluated once. An item is what a[i] is
        (an element, or a row view of a 2-D array), as NumPy's iteration.
        `enumerate_ok`: `it` is an enumerate() call built by the front end."""
        line, col = self.loc(s)
        il, ic = self.loc(it)
        first = None    # `it` built already (a plain sequence)
        if not enumerate_ok and self.iterator_builtin(it) is not None:
            loop = self.tuple_items_loop(s, it)
            if loop is not None:
                return loop
        elif not enumerate_ok:
            first = self.expr(it)
            n = self.arity(first)
            if n is not None and n >= 0:
                return self.for_tuple(s, it, first, n)
        pre, names = [], []
        self.ntemps += 1
        iname = f"$i{self.ntemps}"
        islot = self.new_slot(iname)
        zero = ("const", il, ic, "weak_int", 0)
        one = ("const", il, ic, "weak_int", 1)
        self.record_arity(islot, zero)

        def load(n):
            return ast.Name(id=n, ctx=ast.Load())

        def item_of(q, top=False):
            """The AST of q's i-th item; arrays are evaluated into `pre`."""
            b = "enumerate" if top and enumerate_ok else self.iterator_builtin(q)
            if b == "enumerate":
                return ast.Tuple(elts=[load(iname), item_of(q.args[0])], ctx=ast.Load())
            if b == "zip":
                return ast.Tuple(elts=[item_of(a) for a in q.args], ctx=ast.Load())
            v = first if top and first is not None else self.expr(q)
            if self.arity(v) is not None:
                raise self.unsupported(q, "looping over a tuple is not supported",
                                       "index it with constants, or loop over an array")
            self.ntemps += 1
            name = f"$seq{self.ntemps}"
            slot = self.new_slot(name)
            self.record_arity(slot, v)
            ql, qc = self.loc(q)
            pre.append(("assign", ql, qc, slot, v))
            names.append((name, slot))
            return ast.Subscript(value=load(name), slice=load(iname), ctx=ast.Load())

        value = item_of(it, top=True)
        lens = [("attr", il, ic, "len", ("load", il, ic, slot)) for _, slot in names]
        stop = lens[0] if len(lens) == 1 else ("math", il, ic, "min", lens)
        bind = ast.Assign(targets=[s.target], value=value)
        for n in ast.walk(bind):
            if not hasattr(n, "lineno") or n.lineno is None:
                ast.copy_location(n, it)
        self.loop_depth += 1
        body = self.block([bind] + s.body, s)
        self.loop_depth -= 1
        return pre + [("for_range", line, col, islot, zero, stop, one, body)]

    def iterator_builtin(self, q):
        """'enumerate' or 'zip' when q calls that builtin (checking its
        arguments: enumerate takes one sequence, no start=; zip one or more),
        else None."""
        if not (isinstance(q, ast.Call) and isinstance(q.func, ast.Name)):
            return None
        b = self.builtin_name(q.func)
        if b == "enumerate":
            if len(q.args) != 1 or q.keywords:
                raise self.unsupported(q, "enumerate() takes one sequence here (no start=)")
            return b
        if b == "zip":
            if not q.args or q.keywords:
                raise self.typing(q, "zip() takes one or more sequences here")
            return b
        return None

    def tuple_items_loop(self, s, it):
        """``for i, v in enumerate(t)`` and ``for a, b in zip(t, u)`` over
        tuples of known length (nested: ``enumerate(zip(t, u))``), unrolled
        as tuple_loop (numba unrolls them too): the k-th branch binds
        (k, t[k]) or (t[k], u[k]); zip stops at the shortest tuple. None when
        no sequence is a tuple (arrays: for_items' loop); a mix of tuples and
        arrays is an UnsupportedError."""
        pre = []
        view = self.tuple_view(it, pre)
        if view is None:
            return None
        n, item_of = view
        return self.unrolled_loop(s, n, item_of, pre)

    def tuple_view(self, q, pre):
        """(n, item_of) when `q` is a tuple of known length n, or an
        enumerate()/zip() of such tuples (item_of(k): the k-th item as an
        expression; tuples are evaluated once, in `pre`); None when it is
        none of these."""
        il, ic = self.loc(q)
        b = self.iterator_builtin(q)
        if b is not None:
            views = [self.tuple_view(a, pre) for a in q.args]
            if all(v is None for v in views):
                return None
            if any(v is None for v in views):
                raise self.unsupported(q, f"{b}() of a tuple and an array (or a tuple of "
                                       "unknown length) is not supported",
                                       "index the array with the tuple's positions, or pass "
                                       "only tuples")

            def item_of(i):
                parts = [f(i) for _, f in views]
                if b == "enumerate":
                    parts = [("const", il, ic, "weak_int", i)] + parts
                return ("tuple", il, ic, parts)
            return min(n for n, _ in views), item_of
        v = self.expr(q)
        n = self.arity(v)
        if n is None:
            return None
        if n < 0:
            raise self.unsupported(q, "looping over a tuple of unknown length is not supported",
                                   "index it with constants, or loop over an array")
        src = self.tuple_once(v, il, ic, pre)
        return n, lambda i: self.tuple_item(src, i, il, ic)

    def for_tuple(self, s, it, v, n):
        """``for v in t`` over a tuple of known length: the body once per item
        (the items may differ in type), with v bound to t[k]; 'break' and
        'continue' in such a loop are not supported."""
        line, col = self.loc(s)
        for node in _walk_loop_body(s.body):
            if isinstance(node, (ast.Break, ast.Continue)):
                raise self.unsupported(node, "'break' and 'continue' in a loop over a tuple "
                                       "are not supported", "use a flag variable, or put the "
                                       "items in an array")
        self.ntemps += 1
        name = f"$tup{self.ntemps}"
        slot = self.new_slot(name)
        self.record_arity(slot, v)
        il, ic = self.loc(it)
        out = [("assign", il, ic, slot, v)]
        for k in range(n):
            item = ast.Subscript(value=ast.Name(id=name, ctx=ast.Load()),
                                 slice=ast.Constant(value=k), ctx=ast.Load())
            bind = ast.Assign(targets=[s.target], value=item)
            for node in ast.walk(bind):
                if not hasattr(node, "lineno") or node.lineno is None:
                    ast.copy_location(node, it)
            out.append(self.block([bind] + s.body, s))
        return out

    # -- expressions --
