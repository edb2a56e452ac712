"""``Dispatcher.inspect_types``: the source annotated with the typed IR.

The compiled Kernel's ``ir`` text (core/ir.c ``ir_dump``) lists each
variable (``var name :: type``) and each node with its type and source
position (``math sin :: float32  @8:15``). This file maps them back onto the
source lines, in numba's layout::

    k (float32[::1], float32[::1])
    --------------------------------------------------------------------------------
    # File: /path/to/file.py
    # --- LINE 5 ---
    #   a = arg(0, name=a)  :: float32[::1]
        ...
    # --- LINE 8 ---
    #   i = cuda.grid(1)  :: int64
    #   cuda.grid(1)  :: int64
    i = cuda.grid(1)
"""

import ast
import re

from ..errors import UnsupportedError
from . import frontend

_NODE = re.compile(r"^(\s*)(\S.*?)(?: :: (.*?))?  @(\d+):(\d+)\s*$")
_VAR = re.compile(r"^\s*var (\S+) :: (.*)$")
_HEADER = re.compile(r"^kernel \S+?\((.*)\) -> .*$")

# node kinds that are never calls (a call's position is shared with them:
# ``math.sin(x) * 2`` starts a binary node at the call's column)
_NOT_CALLS = {"const", "param", "load", "unary", "binary", "compare", "and", "or", "ifexp",
              "index", "attr", "tuple", "tuple_get", "block", "assign", "store", "if",
              "while", "for_range", "break", "continue", "return", "expr"}
_CALLS = {"math", "intrinsic", "cast", "call"}


def _parse_ir(text):
    """(variable types, nodes [(kind, type, line, col)]) of an ir_dump text."""
    var_types = {}
    nodes = []
    for raw in text.splitlines():
        m = _VAR.match(raw)
        if m:
            var_types[m.group(1)] = m.group(2).strip()
            continue
        m = _NODE.match(raw)
        if m:
            kind = m.group(2).split()[0]
            nodes.append((kind, m.group(3), int(m.group(4)), int(m.group(5))))
    return var_types, nodes


def annotate(py_func, sig, ir_text, desc_str, return_type=None):
    """The annotated listing of ``py_func`` compiled for ``sig`` (a str);
    with ``return_type`` (an ember.jit function's), each ``return value``
    line is annotated with it too."""
    try:
        info, dedented = frontend.source_info(py_func)
        fdef = ast.parse(dedented).body[0]
        frontend.split_variables(fdef)   # the names the compiler saw: v, v.1 (_webs.py)
        lines = info.lines
    except UnsupportedError:
        # no source (exec'd text, python -c, the interpreter): the tree
        # rebuilt from bytecode, each line shown as that tree writes it
        from .bytecode import function_def
        info, fdef = function_def(py_func)
        frontend.split_variables(fdef)
        lines = _rebuilt_lines(fdef)
        info.firstlineno = fdef.lineno
    first = info.firstlineno
    shift = info.col_offset
    var_types, nodes = _parse_ir(ir_text)

    rebuilt = not info.lines

    def fileline(n):
        return n.lineno if rebuilt else n.lineno + first - 1

    # the nodes at each (file line, column)
    at = {}
    for kind, ty, line, col in nodes:
        at.setdefault((line, col), []).append((kind, ty))

    notes = {}          # file line -> annotation lines

    def note(line, text):
        notes.setdefault(line, []).append(text)

    # parameters, at the def line
    def_line = fileline(fdef)
    for i, (a, d) in enumerate(zip(fdef.args.args, sig)):
        note(def_line, f"{a.arg} = arg({i}, name={a.arg})  :: {desc_str(d)}")

    for n in ast.walk(fdef):
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            value = ast.unparse(n.value) if n.value is not None else ""
            op = "="
            if isinstance(n, ast.AugAssign):
                op = ast.unparse(ast.AugAssign(target=ast.Name("_"), op=n.op,
                                               value=ast.Name("_"))).split()[1]
            for t in targets:
                for name in _names(t):
                    if name in var_types:
                        note(fileline(n), f"{name} {op} {value}  :: {var_types[name]}")
        elif isinstance(n, ast.For):
            for name in _names(n.target):
                if name in var_types:
                    note(fileline(n), f"{name} = next({ast.unparse(n.iter)})  :: "
                         f"{var_types[name]}")
        elif isinstance(n, ast.Return) and n.value is not None and return_type:
            note(fileline(n), f"return {ast.unparse(n.value)}  :: {return_type}")
        if isinstance(n, ast.Call):
            cands = at.get((fileline(n), n.col_offset + shift), [])
            ty = next((t for k, t in cands if k in _CALLS and t), None)
            if ty is None:
                ty = next((t for k, t in cands if k not in _NOT_CALLS and t), None)
            if ty is not None:
                note(fileline(n), f"{ast.unparse(n)}  :: {ty}")

    out = [f"{py_func.__name__} ({', '.join(desc_str(d) for d in sig)})", "-" * 80,
           f"# File: {info.filename}"]
    for i, text in enumerate(lines):
        line = first + i
        out.append(f"# --- LINE {line} --- ")
        for t in notes.get(line, []):
            out.append(f"#   {t}")
        out.append("")
        out.append(text.rstrip("\n"))
        out.append("")
    out.append("=" * 80)
    return "\n".join(out) + "\n"


def _rebuilt_lines(fdef):
    """Text for each line from fdef's line on: its statements (a compound
    one by its header) as ast.unparse writes them, at their columns."""
    text = {fdef.lineno: f"def {fdef.name}({ast.unparse(fdef.args)}):"}
    for n in ast.walk(fdef):
        if isinstance(n, ast.stmt) and n is not fdef and n.lineno not in text:
            src = ast.unparse(n).splitlines()[0]
            text[n.lineno] = " " * n.col_offset + src
    last = max(text)
    return [text.get(line, "") for line in range(fdef.lineno, last + 1)]


def _names(target):
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [x for e in target.elts for x in _names(e)]
    return []
