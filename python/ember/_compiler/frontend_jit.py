"""The forms of ember.jit functions that kernels do not have, for the front
end's builder (frontend.py _Builder inherits them): lists (a buffer array
and a length per list name), list comprehensions (hoisted out of their
statement into a loop), for loops over np.ndenumerate / np.nditer,
reductions with an axis, np.array's nested lists, and the NumPy functions
written with ember.jit in ember/_jitlib.py. Each turns Python into the
trees or Python AST the builder already translates."""

import ast
import copy
import inspect


def _static(*args):
    from .frontend import _Static
    return _Static(*args)


def _is_static(x):
    from .frontend import _Static
    return isinstance(x, _Static)


class JitForms:
    def list_vars(self):
        """Names bound to list literals ([] or [a, b]) in an ember.jit function:
        name -> (witness, buffer slot name, length slot name). A list is a
        buffer array (grown by doubling) and a length; the name reads as
        the view buffer[:length]. The witness types the items: the sum of
        every literal item and append() argument (never evaluated)."""
        if getattr(self, "_lists", None) is not None:
            return self._lists
        self._lists = {}
        if not self.graph.jit:
            return self._lists
        items = {}
        for node in ast.walk(self.fdef):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and \
                    len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                items.setdefault(node.targets[0].id, []).extend(node.value.elts)
        for node in ast.walk(self.fdef):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("append", "insert") and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id in items and \
                    node.args:
                items[node.func.value.id].append(node.args[-1])
        for name, elts in items.items():
            witness = None
            for e in elts:
                witness = e if witness is None else ast.BinOp(left=witness, op=ast.Add(), right=e)
            if witness is None:
                witness = ast.Constant(value=0.0)  # a list never filled: float64, as np.array([])
            for e in ast.walk(witness):
                if isinstance(e, (ast.ListComp, ast.Starred)):
                    raise self.unsupported(e, "this list item is not supported here")
            buf, n = f"$lbuf_{name}", f"$llen_{name}"
            self.new_slot(buf)
            self.new_slot(n)
            self._lists[name] = (witness, buf, n)
        return self._lists

    def list_append(self, name, value, at):
        """The statements of name.append(value) (AST)."""
        witness, buf, n = self.list_vars()[name]
        self.ntemps += 1
        v, new = f"$lv{self.ntemps}", f"$lnew{self.ntemps}"
        self.new_slot(v)
        self.new_slot(new)

        def nm(w, store=False):
            return ast.Name(id=w, ctx=ast.Store() if store else ast.Load())

        def call(fn, *args):
            return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()), args=list(args), keywords=[])

        stmts = [
            ast.Assign(targets=[nm(v, True)], value=value),
            ast.If(test=ast.Compare(left=nm(n), ops=[ast.Eq()], comparators=[call("$len", nm(buf))]),
                   body=[ast.Assign(targets=[nm(new, True)],
                                    value=call("$rows", ast.BinOp(left=ast.Constant(value=2),
                                                                  op=ast.Mult(),
                                                                  right=call("$max8", nm(n))),
                                               nm(v), copy.deepcopy(witness))),
                         ast.If(test=ast.Compare(left=nm(n), ops=[ast.Gt()],
                                                 comparators=[ast.Constant(value=0)]),
                                body=[ast.Assign(targets=[ast.Subscript(
                                    value=nm(new), slice=ast.Slice(upper=nm(n)),
                                    ctx=ast.Store())], value=ast.Subscript(
                                        value=nm(buf), slice=ast.Slice(upper=nm(n)),
                                        ctx=ast.Load()))], orelse=[]),
                         ast.Assign(targets=[nm(buf, True)], value=nm(new))], orelse=[]),
            ast.Assign(targets=[ast.Subscript(value=nm(buf), slice=nm(n), ctx=ast.Store())],
                       value=nm(v)),
            ast.AugAssign(target=nm(n, True), op=ast.Add(), value=ast.Constant(value=1))]
        for st in stmts:
            for x in ast.walk(st):
                if getattr(x, "lineno", None) is None:
                    ast.copy_location(x, at)
        return stmts

    def list_statement(self, s):
        """name = [..] and name.append(x) as plain statements (an If holding
        them); other statements unchanged. A list name may only be bound to
        list literals."""
        lists = self.list_vars()
        if not lists:
            return s
        if isinstance(s, ast.Assign):
            def bound(t):  # the names a target binds (not x in x[i] = v)
                if isinstance(t, ast.Name):
                    return [t]
                if isinstance(t, (ast.Tuple, ast.List)):
                    return [n for e in t.elts for n in bound(e)]
                if isinstance(t, ast.Starred):
                    return bound(t.value)
                return []

            for t in s.targets:
                for x in bound(t):
                    if x.id in lists and \
                            not (len(s.targets) == 1 and t is x and isinstance(s.value, ast.List)):
                        raise self.typing(x, f"'{x.id}' is a list: it can only be bound to a "
                                          "list literal ([] or [a, b]); change its items with "
                                          "append/pop or x[i] = v", "name the other value "
                                          "differently")
            if isinstance(s.value, ast.List) and len(s.targets) == 1 and \
                    isinstance(s.targets[0], ast.Name) and s.targets[0].id in lists:
                name = s.targets[0].id
                witness, buf, n = lists[name]
                stmts = [ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())],
                                    value=ast.Constant(value=0)),
                         ast.Assign(targets=[ast.Name(id=buf, ctx=ast.Store())],
                                    value=ast.Call(func=ast.Name(id="$rows0", ctx=ast.Load()),
                                                   args=[copy.deepcopy(witness)], keywords=[]))]
                for e in s.value.elts:
                    stmts += self.list_append(name, e, s)
                return self.as_if(stmts, s)
        if isinstance(s, (ast.AugAssign, ast.AnnAssign)) and isinstance(s.target, ast.Name) and \
                s.target.id in lists:
            raise self.typing(s, f"'{s.target.id}' is a list: {type(s).__name__} on it is not "
                              "supported", "append the items one by one")
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            c = s.value
            f = c.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and \
                    f.value.id in lists and f.attr == "append":
                if len(c.args) != 1 or c.keywords:
                    raise self.typing(c, "append() takes one item")
                return self.as_if(self.list_append(f.value.id, c.args[0], s), s)
        return s

    @staticmethod
    def as_if(stmts, at):
        """Statements as one (an `if True:` the builder flattens)."""
        node = ast.If(test=ast.Constant(value=True), body=stmts, orelse=[])
        for x in ast.walk(node):
            if getattr(x, "lineno", None) is None:
                ast.copy_location(x, at)
        return node

    def hoist_comprehensions(self, s):
        """Statement s with each list comprehension in it replaced by a
        temporary holding its value, a new array (rows for array items), and
        the statements that compute it, as Python AST (to translate before s):

            $k = 0; $buf = <no rows of the item's type>
            for <target> in <iter>:
                if <conds>:
                    $v = <item>
                    if $k == len($buf): $buf = <2x the rows, the first $k copied>
                    $buf[$k] = $v; $k += 1
            $lc = $buf[:$k]

        The comprehension's names are renamed to fresh ones (Python 3 scopes
        them to the comprehension)."""
        found = []
        lists = self.list_vars()
        if not any(isinstance(x, ast.ListComp) or (
                isinstance(x, ast.Call) and isinstance(x.func, ast.Attribute) and
                isinstance(x.func.value, ast.Name) and x.func.value.id in lists)
                for x in ast.walk(s)):  # (ast.walk needs no deep recursion)
            return [], s

        class Hoist(ast.NodeTransformer):
            def visit_ListComp(inner, node):
                self.ntemps += 1
                name = f"$lc{self.ntemps}"
                self.new_slot(name)
                found.append((name, node))
                return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)

            def visit_Lambda(inner, node):
                return node

            def visit_IfExp(inner, node):
                return inner.no_pop(node)

            def visit_BoolOp(inner, node):
                return inner.no_pop(node)

            def no_pop(inner, node):
                for x in ast.walk(node):
                    if isinstance(x, ast.Call) and isinstance(x.func, ast.Attribute) and \
                            x.func.attr == "pop" and isinstance(x.func.value, ast.Name) and \
                            x.func.value.id in self.list_vars():
                        raise self.typing(x, "pop() inside a conditional expression is not "
                                          "supported", "use an if statement")
                return inner.generic_visit(node)

            def visit_Call(inner, node):
                f = node.func
                lists = self.list_vars()
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and \
                        f.value.id in lists:
                    _, buf, n = lists[f.value.id]
                    if f.attr == "pop" and not node.args and not node.keywords:
                        # the last item: length - 1, then buffer[length] (checked: an
                        # empty list's pop is an IndexError)
                        pops.append(ast.copy_location(ast.AugAssign(
                            target=ast.Name(id=n, ctx=ast.Store()), op=ast.Sub(),
                            value=ast.Constant(value=1)), node))
                        return ast.copy_location(ast.Call(
                            func=ast.Name(id="$checked", ctx=ast.Load()),
                            args=[ast.Name(id=buf, ctx=ast.Load()),
                                  ast.Name(id=n, ctx=ast.Load())], keywords=[]), node)
                    if f.attr not in ("append",):
                        raise self.unsupported(node, f"list.{f.attr}() is not supported in "
                                               "ember.jit functions", "lists support append(), "
                                               "pop(), len(), indexing and iteration")
                    raise self.typing(node, "append() returns None: call it as a statement")
                return inner.generic_visit(node)

        pops = []
        s = Hoist().visit(s)
        for p in pops:
            for x in ast.walk(p):
                if getattr(x, "lineno", None) is None:
                    ast.copy_location(x, s)
        pre = list(pops)
        for name, comp in found:
            pre.extend(self.comprehension_loop(name, comp))
        return pre, s

    def comprehension_loop(self, result, comp):
        if len(comp.generators) != 1 or comp.generators[0].is_async:
            raise self.unsupported(comp, "list comprehensions with more than one 'for' are "
                                   "not supported", "write nested for loops")
        gen = comp.generators[0]
        self.ntemps += 1
        n = self.ntemps
        renames = {}
        for t in ast.walk(gen.target):
            if isinstance(t, ast.Name):
                renames[t.id] = f"$c{n}_{t.id}"
                self.new_slot(renames[t.id])

        class Rename(ast.NodeTransformer):
            def visit_Name(inner, node):
                if node.id in renames:
                    return ast.copy_location(ast.Name(id=renames[node.id], ctx=node.ctx), node)
                return node

        def fresh(tree):
            return Rename().visit(copy.deepcopy(tree))

        def at(node):
            for x in ast.walk(node):
                if not hasattr(x, "lineno") or getattr(x, "lineno", None) is None:
                    ast.copy_location(x, comp)
            return node

        k, buf, v, new = (f"${w}{n}" for w in ("k", "buf", "v", "new"))
        for w in (k, buf, v, new):
            self.new_slot(w)

        def name(w, store=False):
            return ast.Name(id=w, ctx=ast.Store() if store else ast.Load())

        def call(fn, *args):
            return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()), args=list(args), keywords=[])

        def num(x):
            return ast.Constant(value=x)

        grow = ast.If(
            test=ast.Compare(left=name(k), ops=[ast.Eq()],
                             comparators=[call("$len", name(buf))]),
            body=[ast.Assign(targets=[name(new, True)],
                             value=call("$rows", ast.BinOp(left=num(2), op=ast.Mult(),
                                                           right=call("$max8", name(k))),
                                        name(v))),
                  ast.If(test=ast.Compare(left=name(k), ops=[ast.Gt()], comparators=[num(0)]),
                         body=[ast.Assign(targets=[ast.Subscript(
                             value=name(new), slice=ast.Slice(upper=name(k)), ctx=ast.Store())],
                             value=name(buf))], orelse=[]),
                  ast.Assign(targets=[name(buf, True)], value=name(new))],
            orelse=[])
        body = [ast.Assign(targets=[name(v, True)], value=fresh(comp.elt)), grow,
                ast.Assign(targets=[ast.Subscript(value=name(buf), slice=name(k),
                                                  ctx=ast.Store())], value=name(v)),
                ast.AugAssign(target=name(k, True), op=ast.Add(), value=num(1))]
        for cond in reversed(gen.ifs):
            body = [ast.If(test=fresh(cond), body=body, orelse=[])]
        loop = ast.For(target=fresh(gen.target), iter=gen.iter, body=body, orelse=[])
        return [at(ast.Assign(targets=[name(k, True)], value=num(0))),
                at(ast.Assign(targets=[name(buf, True)], value=call("$rows0", fresh(comp.elt)))),
                at(loop),
                at(ast.Assign(targets=[name(result, True)],
                              value=ast.Subscript(value=name(buf), slice=ast.Slice(upper=name(k)),
                                                  ctx=ast.Load())))]

    def numpy_iterator(self, it):
        """'ndenumerate' or 'nditer' when `it` is np.ndenumerate(a) / np.nditer(a)."""
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and
                it.func.attr in ("ndenumerate", "nditer")):
            return None
        base = self.value(it.func.value)
        if not (_is_static(base) and base.kind == "numpy"):
            return None
        if len(it.args) != 1 or it.keywords:
            raise self.typing(it, f"np.{it.func.attr}() takes one array here (no flags, "
                              "op_flags or other operands)")
        return it.func.attr

    def for_numpy_iterator(self, s, it, kind):
        """``for x in np.nditer(a)``: a loop over a's elements in C order (x a
        number, where NumPy gives 0-d arrays); ``for idx, x in
        np.ndenumerate(a)``: with idx the index tuple. `a` is evaluated once."""
        line, col = self.loc(s)
        il, ic = self.loc(it)
        self.ntemps += 1
        name = f"$nd{self.ntemps}"
        slot = self.new_slot(name)
        pre = [("assign", il, ic, slot, self.expr(it.args[0]))]

        def load(n):
            return ast.copy_location(ast.Name(id=n, ctx=ast.Load()), it)

        if kind == "nditer":
            loop = ast.For(target=s.target, body=s.body, orelse=[],
                           iter=ast.copy_location(ast.Attribute(value=load(name), attr="$nditer",
                                                                ctx=ast.Load()), it))
            return pre + self.as_list(self.for_items(ast.copy_location(loop, s), loop.iter))
        if not (isinstance(s.target, ast.Tuple) and len(s.target.elts) == 2):
            raise self.typing(s.target, "for idx, x in np.ndenumerate(a): the target is a pair")
        self.ntemps += 1
        kname = f"$k{self.ntemps}"
        self.new_slot(kname)
        idx_target, x_target = s.target.elts
        unravel = ast.copy_location(ast.Call(
            func=ast.copy_location(ast.Attribute(value=load(name), attr="$unravel",
                                                 ctx=ast.Load()), it),
            args=[load(kname)], keywords=[]), it)
        bind = ast.copy_location(ast.Assign(targets=[idx_target], value=unravel), it)
        items = ast.copy_location(ast.Call(
            func=ast.copy_location(ast.Name(id="enumerate", ctx=ast.Load()), it),
            args=[ast.copy_location(ast.Attribute(value=load(name), attr="flat",
                                                  ctx=ast.Load()), it)], keywords=[]), it)
        target = ast.copy_location(ast.Tuple(
            elts=[ast.copy_location(ast.Name(id=kname, ctx=ast.Store()), it), x_target],
            ctx=ast.Store()), s.target)
        loop = ast.copy_location(ast.For(target=target, iter=items, body=[bind] + s.body,
                                         orelse=[]), s)
        return pre + self.as_list(self.for_items(loop, items, enumerate_ok=True))

    @staticmethod
    def as_list(trees):
        return trees if isinstance(trees, list) else [trees]

    def jitlib_call(self, node, name):
        """np.unique(a), np.searchsorted(a, v, side='left'), np.nonzero(a),
        np.where(cond), np.histogram(a, bins=10, range=None): a call of the
        ember.jit function in ember/_jitlib.py that computes it (inlined)."""
        from .. import _jitlib
        what = f"np.{name}()"
        if name in ("concatenate", "hstack", "vstack"):
            # a literal sequence of arrays: joined two at a time, left to right
            if len(node.args) != 1 or (node.keywords and not (
                    name == "concatenate" and len(node.keywords) == 1 and
                    node.keywords[0].arg == "axis" and
                    isinstance(node.keywords[0].value, ast.Constant) and
                    node.keywords[0].value.value == 0)):
                raise self.typing(node, f"{what} takes one sequence of arrays here"
                                  + (" (axis=0 only)" if name == "concatenate" else ""))
            seq = node.args[0]
            if not isinstance(seq, (ast.Tuple, ast.List)) or not seq.elts:
                raise self.typing(seq, f"{what} needs the arrays written as a tuple or list "
                                  "here: (a, b, ...)")
            fn = getattr(_jitlib, name + "2")
            line, col = self.loc(node)
            tree = self.expr(seq.elts[0])
            if len(seq.elts) == 1:  # one array: a copy, as NumPy
                return ("new_array", line, col, "array", None, tree, None, [])
            df = fn._as_device_function()
            key = self.device_key(node, df, inspect.unwrap(df.py_func))
            for e in seq.elts[1:]:
                tree = ("call", line, col, key, [tree, self.expr(e)])
            return tree
        params = {"unique": ("ar",), "searchsorted": ("a", "v", "side"),
                  "nonzero": ("a",), "histogram": ("a", "bins", "range")}[name]
        if len(node.args) > len(params):
            raise self.typing(node, f"{what} takes at most {len(params)} arguments here")
        given = dict(zip(params, node.args))
        for kw in node.keywords:
            if kw.arg not in params or kw.arg in given:
                raise self.typing(node, f"{what} got an unexpected or repeated argument "
                                  f"'{kw.arg}'", f"its arguments are {', '.join(params)} here")
            given[kw.arg] = kw.value
        if params[0] not in given:
            raise self.typing(node, f"{what} needs its '{params[0]}' argument")
        args = [given[params[0]]]
        fn = getattr(_jitlib, name, None)
        if name == "searchsorted":
            if "v" not in given:
                raise self.typing(node, "np.searchsorted() needs its 'v' argument")
            side = given.get("side")
            side = "left" if side is None else (side.value if isinstance(side, ast.Constant)
                                                else None)
            if side not in ("left", "right"):
                raise self.typing(node, "np.searchsorted(): side must be the constant 'left' "
                                  "or 'right'")
            fn, args = getattr(_jitlib, "searchsorted_" + side), args + [given["v"]]
        if name == "histogram":
            bins = given.get("bins", ast.copy_location(ast.Constant(value=10), node))
            rng = given.get("range")
            if rng is None or (isinstance(rng, ast.Constant) and rng.value is None):
                fn, args = _jitlib.histogram_auto, args + [bins]
            elif isinstance(rng, ast.Tuple) and len(rng.elts) == 2:
                lo, hi = (ast.copy_location(ast.Call(func=ast.Name(id="float", ctx=ast.Load()),
                                                     args=[e], keywords=[]), e)
                          for e in rng.elts)
                args = args + [bins, lo, hi]
            else:
                raise self.typing(rng, "np.histogram(): range must be written (lo, hi) here")
        call = ast.copy_location(ast.Call(func=node.func, args=args, keywords=[]), node)
        return self.device_call(call, _static("device", fn._as_device_function(), what))

    def reduction_call(self, node, op, base, args, what):
        """a.sum(), a.argmin(axis), np.cumsum(a, axis=0) ...: a reduction of
        the array `base` (a tree), over every element or along one axis (an
        int computed at run time)."""
        line, col = self.loc(node)
        axis = None
        if len(args) > 1:
            raise self.typing(node, f"{what} takes at most the axis here "
                              f"({len(args) + 1} arguments given)")
        if args:
            axis = args[0]
        for kw in node.keywords:
            if kw.arg == "axis" and axis is None:
                axis = kw.value
            else:
                raise self.typing(kw.value if kw.arg else node,
                                  f"{what} takes only axis= here (not {kw.arg or '**'}=)",
                                  "dtype=, out=, keepdims= and ddof= are not supported")
        if axis is not None and isinstance(axis, ast.Constant) and axis.value is None:
            axis = None
        if axis is not None and not self.graph.jit:
            raise self.unsupported(node, f"{what} with an axis is available in ember.jit "
                                   "functions only, not in kernels")
        if axis is None:
            return ("attr", line, col, op, base)
        return ("attr", line, col, op, base, self.expr(axis))

    def nested_sequence(self, node):
        """[[1, 2], [3, x]] as nested tuple trees (np.array's argument);
        anything else as its expression."""
        if isinstance(node, (ast.List, ast.Tuple)):
            line, col = self.loc(node)
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    raise self.unsupported(e, "*x in the list given to np.array() is not "
                                           "supported")
            return ("tuple", line, col, [self.nested_sequence(e) for e in node.elts])
        return self.expr(node)
