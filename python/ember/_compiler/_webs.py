"""Splitting a local variable into its webs, before the front end builds a
function: where the values a name holds never meet (no read sees two of
them), each group of assignments and the reads they reach becomes its own
variable, ``v``, ``v.1``, ``v.2`` ('.' cannot occur in a Python name).

ember gives each variable one type (core/infer.c), so without this a name
reused for another type fails to compile:

    for v in (a2, b2): ...      # v holds 2-vectors
    for v in (a3, b3): ...      # v holds 3-vectors: another variable here

numba allows this for the same reason: its IR is in SSA form, and a name's
versions only unify where control flow joins them. Here a web is found with
reaching definitions over the function's statements (if, for, while with
break/continue/else, return, raise), iterated to a fixed point at loops; a
read joins all the assignments that reach it. The parameter's entry value,
or the undefined one, is an assignment too; its web keeps the plain name.

Functions with statements the front end does not translate anyway (try,
with, del, global, nested functions) or with scopes of their own
(comprehensions, lambdas, ':=') are left as they are.
"""

import ast

_LEAVE_ALONE = (ast.Try, ast.With, ast.AsyncWith, ast.AsyncFor, ast.FunctionDef,
                ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.Global, ast.Nonlocal,
                ast.Delete, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom) + \
    ((ast.Match,) if hasattr(ast, "Match") else ()) + \
    ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


class _Webs:
    """Reaching definitions of each assigned name; union-find over the
    definitions (ast.Name nodes that store, and one entry per name)."""

    def __init__(self, names):
        self.parent = {}
        self.entry = {n: ("entry", n) for n in names}
        self.uses = {}      # id(load node) -> (node, a definition it reads)
        self.defs = {}      # id(store node) -> node
        self.breaks = []    # per loop being walked: states at its break statements
        self.continues = []
        for e in self.entry.values():
            self.parent[e] = e

    def find(self, d):
        while self.parent[d] != d:
            self.parent[d] = self.parent[self.parent[d]]
            d = self.parent[d]
        return d

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a

    # -- states: name -> frozenset of definitions; None after return/break --

    def start(self):
        return {n: frozenset([e]) for n, e in self.entry.items()}

    @staticmethod
    def join(*states):
        live = [s for s in states if s is not None]
        if not live:
            return None
        out = dict(live[0])
        for s in live[1:]:
            for n, ds in s.items():
                out[n] = out[n] | ds
        return out

    def read(self, expr, state):
        """The reads of assigned names in an expression."""
        if expr is None:
            return
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                    node.id in self.entry:
                self.read_name(node, state)

    def read_name(self, node, state):
        ds = sorted(state[node.id], key=repr) if state is not None else [self.entry[node.id]]
        for d in ds[1:]:
            self.union(ds[0], d)
        if id(node) in self.uses:   # walked again (a loop), or one node in two places
            self.union(self.uses[id(node)][1], ds[0])
        self.uses[id(node)] = (node, ds[0])

    def write(self, target, state):
        """Assignment to a target: names bound, the rest (a[i], r.x) read."""
        if isinstance(target, ast.Name):
            key = ("def", id(target))
            self.parent.setdefault(key, key)
            self.defs[id(target)] = target
            if state is not None:
                state[target.id] = frozenset([key])
        elif isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self.write(e, state)
        elif isinstance(target, ast.Starred):
            self.write(target.value, state)
        else:
            self.read(target, state)

    # -- statements --

    def block(self, stmts, state):
        for s in stmts:
            state = self.stmt(s, state if state is not None else self.start())
        return state

    def stmt(self, s, state):
        state = dict(state)
        if isinstance(s, ast.Assign):
            self.read(s.value, state)
            for t in s.targets:
                self.write(t, state)
        elif isinstance(s, ast.AugAssign):
            self.read(s.value, state)
            if isinstance(s.target, ast.Name):   # x += 1 reads x, then binds it
                self.read_name(s.target, state)
                self.write(s.target, state)
                self.union(self.uses.pop(id(s.target))[1], ("def", id(s.target)))
            else:
                self.read(s.target, state)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.read(s.value, state)
                self.write(s.target, state)
        elif isinstance(s, ast.If):   # an elif chain in a loop, not by recursion
            outs = []
            while True:
                self.read(s.test, state)
                outs.append(self.block(s.body, state))
                if len(s.orelse) != 1 or not isinstance(s.orelse[0], ast.If):
                    return self.join(*outs, self.block(s.orelse, state))
                s = s.orelse[0]
        elif isinstance(s, (ast.For, ast.While)):
            return self.loop(s, state)
        elif isinstance(s, ast.Break):
            self.breaks[-1].append(state)
            return None
        elif isinstance(s, ast.Continue):
            self.continues[-1].append(state)
            return None
        elif isinstance(s, (ast.Return, ast.Raise)):
            for child in ast.iter_child_nodes(s):
                self.read(child, state)
            return None
        else:   # Expr, Assert, Pass ...
            for child in ast.iter_child_nodes(s):
                self.read(child, state)
        return state

    def loop(self, s, entry):
        """for/while: the head's state is the join of the entry, the end of
        the body and the continues, found by iterating; breaks skip else."""
        if isinstance(s, ast.For):
            self.read(s.iter, entry)
        head = entry
        while True:
            self.breaks.append([])
            self.continues.append([])
            if isinstance(s, ast.While):
                self.read(s.test, head)
            body_in = dict(head)
            if isinstance(s, ast.For):
                self.write(s.target, body_in)
            end = self.block(s.body, body_in)
            breaks, continues = self.breaks.pop(), self.continues.pop()
            new_head = self.join(entry, end, *continues)
            if new_head == head:
                break
            head = new_head
        return self.join(self.block(s.orelse, head), *breaks)


def split_variables(fdef):
    """Rename, in place, the Name nodes of each local of ``fdef`` whose
    values never meet: ``v`` for the web of the entry value (a parameter's
    or the undefined one; else the first in the source: a parameter keeps
    its name for its own value only), ``v.1`` ... for the others."""
    if any(isinstance(n, _LEAVE_ALONE) for n in ast.walk(fdef) if n is not fdef):
        return
    names = set()
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
    if not names:
        return
    a = fdef.args
    params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    webs = _Webs(names)
    try:
        webs.block(fdef.body, webs.start())
    except RecursionError:   # nested too deeply: left to the builder, which says where
        return
    groups = {}   # (name, web root) -> its nodes
    for node in webs.defs.values():
        groups.setdefault((node.id, webs.find(("def", id(node)))), []).append(node)
    for node, d in webs.uses.values():
        groups.setdefault((node.id, webs.find(d)), []).append(node)
    by_name = {}
    for (name, root), nodes in groups.items():
        by_name.setdefault(name, []).append((root, nodes))
    for name, ws in by_name.items():
        if len(ws) < 2:
            continue
        entry_root = webs.find(webs.entry[name])
        ws.sort(key=lambda w: (w[0] != entry_root,
                               min((n.lineno, n.col_offset) for n in w[1])))
        keep = ws[0][0] == entry_root or name not in params
        for k, (_, nodes) in enumerate(ws[1:] if keep else ws, 1):
            for n in nodes:
                n.id = f"{name}.{k}"
