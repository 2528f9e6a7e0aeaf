"""Stop conditions: a small arithmetic/boolean expression over the per-step metrics.

``when = "active + violent == 0"`` in an experiment's ``[stop]`` table ends a run after the
first step at which it holds (NetLogo BehaviorSpace's "stop condition"). Only numbers,
metric names, arithmetic, comparisons and ``and``/``or``/``not`` are allowed, in at most
``MAX_CONDITION_LENGTH`` characters nested at most ``MAX_CONDITION_DEPTH`` deep
(``crowd_model/limits.py``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterable, Mapping

from crowd_model.errors import InputError
from crowd_model.limits import MAX_CONDITION_DEPTH, MAX_CONDITION_LENGTH

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class Condition:
    """A parsed stop condition; call it with a mapping of metric values."""

    def __init__(self, text: str, known: Iterable[str] | None = None):
        """Parse ``text``; with ``known``, every name in it must be one of those metrics."""
        self.text = text
        if len(text) > MAX_CONDITION_LENGTH:
            raise InputError(f"stop condition is {len(text):,} characters long; at most {MAX_CONDITION_LENGTH:,}")
        try:
            self._tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            raise InputError(f"stop condition {text!r} is not a valid expression") from None
        except (RecursionError, MemoryError):
            raise InputError(f"stop condition {text!r} is nested too deeply") from None
        if _depth(self._tree) > MAX_CONDITION_DEPTH:
            raise InputError(
                f"stop condition {text!r} is nested more than {MAX_CONDITION_DEPTH} levels deep; simplify it"
            )
        self.names = sorted(_names(self._tree, text))
        unknown = [] if known is None else [n for n in self.names if n not in set(known)]
        if unknown:
            raise InputError(
                f"stop condition {text!r} names unknown metric(s) {unknown}; "
                f"metrics: {', '.join(sorted(known))}"
            )

    def __call__(self, values: Mapping[str, float]) -> bool:
        return bool(_evaluate(self._tree, values))


def _depth(tree: ast.AST) -> int:
    """How deep the expression nests (iteratively: no recursion on a hostile tree)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_CONDITION_DEPTH:
            break
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.operator, ast.boolop, ast.unaryop, ast.cmpop, ast.expr_context)))
    return deepest


def _names(node: ast.AST, text: str) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise InputError(f"stop condition {text!r}: only numbers are allowed as constants")
        return set()
    if isinstance(node, ast.BoolOp):
        return set().union(*(_names(v, text) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        return _names(node.operand, text)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _names(node.left, text) | _names(node.right, text)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        return set().union(_names(node.left, text), *(_names(c, text) for c in node.comparators))
    raise InputError(
        f"stop condition {text!r}: {ast.unparse(node)!r} is not allowed; "
        "use metric names, numbers, + - * /, comparisons, and, or, not"
    )


def _evaluate(node: ast.AST, values: Mapping[str, float]):
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        results = (_evaluate(v, values) for v in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    left = _evaluate(node.left, values)
    for op, comparator in zip(node.ops, node.comparators):
        right = _evaluate(comparator, values)
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True
