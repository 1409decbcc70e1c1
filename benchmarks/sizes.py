"""Code sizes: modules over 500 lines, functions over 80, and ``minimize``'s length.

Run from the project root: ``python benchmarks/sizes.py``. Lines of a module
are physical lines; a function's are from its ``def`` to its last line
(docstring included); ``minimize``'s "lines of code" leave out its docstring,
comments and blank lines. The test kit (``gdkit/testing``) is reported but
not held to the function limit.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_LIMIT, FUNCTION_LIMIT = 500, 80


def code_lines(source: str, node: ast.FunctionDef) -> int:
    """Lines of ``node`` holding code: no docstring, comment-only or blank line."""
    body = node.body
    first = body[0]
    doc_end = first.end_lineno if (isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant) and isinstance(first.value.value, str)) else 0
    lines = set()
    text = "\n".join(source.splitlines()[node.lineno - 1:node.end_lineno])
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        line = tok.start[0] + node.lineno - 1
        if not (doc_end and first.lineno <= line <= doc_end):
            lines.add(line)
    return len(lines)


def main() -> int:
    big_modules, long_functions = [], []
    minimize = None
    for path in sorted([*ROOT.glob("gdkit/**/*.py"), *ROOT.glob("plugins/**/*.py")]):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT).as_posix()
        n = source.count("\n")
        if n > MODULE_LIMIT:
            big_modules.append((n, rel))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LIMIT:
                    long_functions.append((length, f"{rel}:{node.lineno} {node.name}",
                                           rel.startswith("gdkit/testing/")))
                if node.name == "minimize" and rel.startswith("gdkit/"):
                    args = node.args
                    params = len(args.args) + len(args.kwonlyargs) + len(args.posonlyargs)
                    minimize = (rel, code_lines(source, node), params)
    print(f"modules over {MODULE_LIMIT} lines: {len(big_modules)}")
    for n, rel in sorted(big_modules, reverse=True):
        print(f"  {n:5d}  {rel}")
    held = [f for f in long_functions if not f[2]]
    print(f"functions over {FUNCTION_LIMIT} lines outside the test kit: {len(held)}"
          f" (and {len(long_functions) - len(held)} in gdkit/testing)")
    for n, where, kit in sorted(long_functions, reverse=True):
        print(f"  {n:5d}  {where}{'  (test kit)' if kit else ''}")
    if minimize is not None:
        rel, lines, params = minimize
        print(f"minimize ({rel}): {lines} lines of code, {params} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
