"""Making a front layer's trace quantities: names from identities, partial derivatives, chain products.

A kind's `trace` and `trace_back` receive a `Tracer` and build every quantity through it, so names,
identities and the after-update mark (w5⁺, checked after the update) are made one way.
"""

from __future__ import annotations

import math

from ..expr import Op, Ref
from ..notation import E_TOTAL, name, partial
from ..trace import Product, Quantity, Sum
from .base import ident


class Tracer:
    """Names and quantities for one pass (post: the check after the update, every name with ⁺)."""

    def __init__(self, names, post: bool = False):
        self.names, self.post = names, post

    def name(self, i) -> str:
        return name(i, self.names, "ascii")

    def id(self, symbol: str, l: int, idx=()):
        return ident(symbol, l, idx, self.post and symbol != "x")

    def q(self, symbol: str, l: int, idx, value: float, formula=None, given: bool = False) -> Quantity:
        """A forward quantity `symbol` of layer l at idx (shown indices, 0-based); formula an expression tree
        over other Quantities (bptrace.expr), or None for a value given in the spec."""
        i = self.id(symbol, l, idx)  # after the update its name has no + here: Iteration.walk adds it (z1+)
        return Quantity(self.name(i._replace(after=False)), float(value), formula, i, given)

    def d(self, of, by, value: float, formula=None, given: bool = False) -> Quantity:
        """∂of/∂by (of, by: Quantities or Ids) as a Quantity with its formula (a local derivative)."""
        i = partial(_id(of), _id(by))
        return Quantity(self.name(i), float(value), formula, i, given)

    def product(self, of, by, factors, value: float | None = None, via=None) -> Product:
        """∂of/∂by = the product of `factors` (Quantities), in order; via: the path, for one term of a sum."""
        i = partial(_id(of), _id(by), None if via is None else _id(via))
        v = math.prod(f.value for f in factors) if value is None else float(value)
        return Product(self.name(i), v, tuple(_quantity(f) for f in factors), i)

    def sum(self, of, by, terms, value: float | None = None) -> Sum:
        """∂of/∂by as a sum of its terms (Products, one per path)."""
        i = partial(_id(of), _id(by))
        v = math.fsum(t.value for t in terms) if value is None else float(value)
        return Sum(self.name(i), v, tuple(terms), i)

    def grad(self, by, terms, value: float | None = None):
        """∂E_total/∂by: the one term itself, or the Sum of the terms (one per use of `by`)."""
        if len(terms) == 1 and value is None:
            t = terms[0]
            i = partial(E_TOTAL, _id(by))
            return Product(self.name(i), t.value, t.factors, i)
        return self.sum(E_TOTAL, by, terms, value)


def _id(x):
    return x.ident if hasattr(x, "ident") else x


def _quantity(q):
    """A factor as a Quantity: a Sum or Product stands as a named quantity whose formula is its terms."""
    if isinstance(q, Quantity):
        return q
    return Quantity(q.name, q.value, q.expr if isinstance(q, Product) else Op("add", *map(Ref, q.terms)), q.ident)
