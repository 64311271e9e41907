"""Genotypes: the discrete cells of the DARTS family, their text form, and the published ones.

A :data:`Genotype` holds a normal and a reduction cell (Liu et al., ICLR 2019). Each cell is a list of
edges in one of two forms:

* DARTS pairs ``(op, input)``: two per intermediate node, so edges ``2k`` and ``2k + 1`` feed node
  ``2 + k`` and ``input`` is an earlier node (0 and 1 are the cell inputs);
* FairDARTS triples ``(op, to_node, from_node)`` (Chu et al., ECCV 2020): any number of edges per node,
  so a node may end up with 0, 1 or more inputs.

``normal_concat`` / ``reduce_concat`` name the nodes concatenated into the cell output.

Text form. :func:`parse_genotype` reads the text every DARTS repository prints, e.g.
``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
reduce_concat=range(2, 6))``, with a small tokenizer and parser (never ``eval``), and validates it.

Equality convention. Concat is kept the way it was written: a list stays a list (a tuple becomes a
list) and ``range(2, 6)`` stays a range, and the edge lists are always lists of tuples. So
``parse_genotype(str(g)) == g`` for every valid ``g`` built from lists (as DARTS code builds them), and
:func:`format_genotype` prints the same text as ``str(g)``. Because ``[2, 3, 4, 5] != range(2, 6)`` in
Python, compare cells with :func:`same_genotype` (or :func:`normalize_genotype`, which turns every concat
into a list) when the spelling may differ.
"""
from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Callable, Union

from dartslib.space.ops import OPS

__all__ = [
    "Genotype", "parse_genotype", "format_genotype", "validate_genotype", "normalize_genotype",
    "same_genotype", "genotype_edges", "as_genotype", "published_genotype", "published_names", "published_metadata",
    "PUBLISHED", "MAX_GENOTYPE_CHARS",
]

_GenotypeFields = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


class Genotype(_GenotypeFields):
    """The DARTS kind of :data:`dartslib.arch.architecture.Architecture`: a normal and a reduction cell.

    Still the namedtuple it always was (same fields, tuple equality, iteration, ``_replace``, pickling);
    it adds what every architecture has: :attr:`cells`, :meth:`edges`, :meth:`empty_cells`, and a
    ``str()`` that is the canonical text (:func:`format_genotype`), so
    ``parse_genotype(str(g)) == g`` for every valid ``g`` built from lists.
    """

    __slots__ = ()
    topology = "darts"
    """The search-space topology this architecture belongs to (:attr:`dartslib.space.spaces.SearchSpace.topology`)."""
    cells = ("normal", "reduce")
    """The names :meth:`edges` accepts."""

    def edges(self, cell: str) -> list[tuple[str, int, int]]:
        """The edges of ``cell`` (``"normal"`` or ``"reduce"``) as ``(op, to_node, from_node)`` triples.

        DARTS pairs become triples with ``to_node = 2 + k // 2`` for the ``k``-th pair (Liu et al., 2019).
        An empty cell gives ``[]``. Raises ValueError for another cell name or an invalid genotype.
        """
        if cell not in _CELL_FIELDS:
            raise ValueError(f"unknown cell {cell!r}; choose from: {', '.join(_CELL_FIELDS)}")
        _validate(self)
        edges = getattr(self, cell)
        if edges and len(edges[0]) == 2:
            return [(str(op), 2 + k // 2, int(src)) for k, (op, src) in enumerate(edges)]
        return [(str(op), int(to), int(src)) for op, to, src in edges]

    def empty_cells(self) -> tuple[str, ...]:
        """The cells with no edge at all (FairDARTS' threshold rule may keep none)."""
        return tuple(cell for cell in _CELL_FIELDS if not getattr(self, cell))

    def __str__(self) -> str:
        try:
            return _format_fields(self)
        except (TypeError, ValueError):  # not formattable (e.g. a node that is no integer): the tuple's repr
            return repr(self)


GenotypeLike = Union[Genotype, str]

MAX_GENOTYPE_CHARS = 100_000
"""Longest text :func:`parse_genotype` reads; published genotypes are under 500 characters."""

_MAX_NODE = 64  # the largest node index accepted; real cells use up to 6 or 7
_MAX_INT_DIGITS = 6
_FIELDS = Genotype._fields
_CELL_FIELDS = ("normal", "reduce")
_PUBLISHED_ALIASES = {"DARTS": "DARTS_V2"}  # quark0/darts: ``DARTS = DARTS_V2``
_PUNCTUATION = "()[],="

Edge = tuple  # ('op', input) or ('op', to_node, from_node)


def _shorten(value: object, limit: int = 40) -> object:
    """Long strings cut for error messages."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return value


# ----------------------------------------------------------------------------------------- tokenizer

@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "str", "int", one of _PUNCTUATION, or "end"
    value: Union[str, int]
    pos: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of text"
        if self.kind == "str":
            return f"string {_shorten(self.value)!r}"
        return repr(_shorten(str(self.value)))


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield names, quoted strings, integers and ``()[],=``, then an ``end`` token; anything else is an error.

    A generator, so the parser reports whichever problem comes first in the text.
    """
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            yield _Token(ch, ch, i)
            i += 1
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i + 1
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            yield _Token("name", text[i:j], i)
            i = j
        elif (ch.isascii() and ch.isdigit()) or (ch == "-" and i + 1 < n and text[i + 1].isascii()
                                                    and text[i + 1].isdigit()):
            j = i + 1
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            digits = text[i:j].lstrip("-")
            if len(digits) > _MAX_INT_DIGITS:
                raise ValueError(f"integer {text[i:j][:20]}... at position {i} is too large")
            if j < n and (text[j].isalpha() or text[j] in "._"):
                raise ValueError(f"malformed number {text[i:j + 1]!r} at position {i}")
            yield _Token("int", int(text[i:j]), i)
            i = j
        elif ch in "'\"":
            j = i + 1
            while j < n and text[j] != ch:
                if text[j] in "\\\n":
                    raise ValueError(f"escape or line break inside the string starting at position {i}")
                j += 1
            if j == n:
                raise ValueError(f"unterminated string starting at position {i}")
            yield _Token("str", text[i + 1:j], i)
            i = j + 1
        else:
            raise ValueError(f"unexpected character {ch!r} at position {i}")
    yield _Token("end", "", n)


# -------------------------------------------------------------------------------------------- parser

class _Parser:
    """Recursive-descent parser for ``Genotype(field=value, ...)``; the grammar has a fixed depth.

    Records the text position of every edge and concat so validation errors can point at them.
    """

    def __init__(self, text: str) -> None:
        self.stream = _tokenize(text)
        self.lookahead: list[_Token] = []
        self.positions: dict[tuple[str, int | None], int] = {}

    def peek(self, offset: int = 0) -> _Token:
        while len(self.lookahead) <= offset:
            if self.lookahead and self.lookahead[-1].kind == "end":
                return self.lookahead[-1]
            self.lookahead.append(next(self.stream))
        return self.lookahead[offset]

    @property
    def current(self) -> _Token:
        return self.peek()

    def advance(self) -> _Token:
        token = self.peek()
        if token.kind != "end":
            self.lookahead.pop(0)
        return token

    def expect(self, kind: str, what: str | None = None) -> _Token:
        token = self.current
        if token.kind != kind:
            raise ValueError(f"expected {what or repr(kind)} at position {token.pos}, got {token.describe()}")
        return self.advance()

    def accept(self, kind: str) -> bool:
        if self.current.kind == kind:
            self.advance()
            return True
        return False

    def parse(self) -> Genotype:
        head = self.expect("name", "'Genotype('")
        if head.value != "Genotype":
            raise ValueError(f"expected 'Genotype(' at position {head.pos}, got {head.describe()}")
        self.expect("(", "'(' after 'Genotype'")
        values: dict[str, object] = {}
        seen_keyword = False
        while self.current.kind != ")":
            start = self.current
            if start.kind == "name" and self.peek(1).kind == "=":
                field = str(start.value)
                if field not in _FIELDS:
                    raise ValueError(f"unknown field {field!r} at position {start.pos}; "
                                     f"Genotype fields are {', '.join(_FIELDS)}")
                self.advance()
                self.advance()
                seen_keyword = True
            else:
                if seen_keyword:
                    raise ValueError(f"positional value after keyword values at position {start.pos}")
                if len(values) >= len(_FIELDS):
                    raise ValueError(f"too many values at position {start.pos}: a Genotype has {len(_FIELDS)}")
                field = _FIELDS[len(values)]
            if field in values:
                raise ValueError(f"field {field!r} given twice (position {start.pos})")
            self.positions[(field, None)] = self.current.pos
            values[field] = self.parse_cell(field) if field in _CELL_FIELDS else self.parse_concat(field)
            if not self.accept(","):
                break
        self.expect(")", "',' or ')'")
        if self.current.kind != "end":
            raise ValueError(f"unexpected trailing text at position {self.current.pos}: "
                             f"{self.current.describe()}")
        missing = [f for f in _FIELDS if f not in values]
        if missing:
            raise ValueError(f"missing Genotype field(s): {', '.join(missing)}")
        return Genotype(**values)

    def open_sequence(self, what: str) -> str:
        token = self.current
        if token.kind not in "([":
            raise ValueError(f"expected a list for {what} at position {token.pos}, got {token.describe()}")
        self.advance()
        return ")" if token.kind == "(" else "]"

    def parse_cell(self, field: str) -> list[Edge]:
        close = self.open_sequence(field)
        edges: list[Edge] = []
        while self.current.kind != close:
            self.positions[(field, len(edges))] = self.current.pos
            edges.append(self.parse_edge(field, len(edges)))
            if not self.accept(","):
                break
        self.expect(close, f"',' or {close!r} in {field}")
        return edges

    def parse_edge(self, field: str, k: int) -> Edge:
        where = f"{field}[{k}]"
        self.expect("(", f"an edge tuple like ('sep_conv_3x3', 0) for {where}")
        op = self.expect("str", f"a quoted op name in {where}")
        if op.value not in OPS:
            raise ValueError(f"unknown op {_shorten(op.value)!r} in {where} at position {op.pos}; "
                             f"known ops: {', '.join(OPS)}")
        items: list[object] = [op.value]
        while self.accept(","):
            if self.current.kind == ")":
                break
            number = self.expect("int", f"a node index in {where}")
            items.append(number.value)
        self.expect(")", f"',' or ')' closing {where}")
        if len(items) not in (2, 3):
            raise ValueError(f"{where} at position {self.positions[(field, k)]} has {len(items)} items; "
                             "expected (op, input) or (op, to_node, from_node)")
        return tuple(items)

    def parse_concat(self, field: str) -> list[int] | range:
        token = self.current
        if token.kind == "name":
            if token.value != "range":
                raise ValueError(f"expected a list or range(...) for {field} at position {token.pos}, "
                                 f"got {token.describe()}")
            self.advance()
            self.expect("(", "'(' after 'range'")
            args = [self.expect("int", "an integer in range(...)").value]
            while self.accept(","):
                if self.current.kind == ")":
                    break
                args.append(self.expect("int", "an integer in range(...)").value)
            self.expect(")", "')' closing range(...)")
            if len(args) > 3:
                raise ValueError(f"range(...) for {field} at position {token.pos} takes at most 3 integers")
            if len(args) == 3 and args[2] == 0:
                raise ValueError(f"range(...) for {field} at position {token.pos} has step 0")
            return range(*args)  # type: ignore[arg-type]
        close = self.open_sequence(field)
        nodes: list[int] = []
        while self.current.kind != close:
            nodes.append(int(self.expect("int", f"a node index in {field}").value))
            if not self.accept(","):
                break
        self.expect(close, f"',' or {close!r} in {field}")
        return nodes


# ---------------------------------------------------------------------------------------- validation

def _no_position(field: str, k: int | None) -> str:
    return ""


def _check_edge(field: str, k: int, edge: object, arity: int, where: Callable[[str, int | None], str]) -> None:
    label = f"{field}[{k}]"
    if not isinstance(edge, tuple) or len(edge) not in (2, 3):
        raise ValueError(f"{label} must be a tuple (op, input) or (op, to_node, from_node), got {edge!r}"
                         f"{where(field, k)}")
    if len(edge) != arity:
        raise ValueError(f"{label} has {len(edge)} items but earlier edges have {arity}: a genotype uses either "
                         f"(op, input) pairs or (op, to_node, from_node) triples{where(field, k)}")
    op, *nodes = edge
    if not isinstance(op, str) or op not in OPS:
        raise ValueError(f"unknown op {_shorten(op)!r} in {label}{where(field, k)}; known ops: {', '.join(OPS)}")
    for node in nodes:
        if isinstance(node, bool) or not hasattr(node, "__index__"):
            raise ValueError(f"node index {node!r} in {label} is not an integer{where(field, k)}")
        if int(node) < 0:
            raise ValueError(f"negative node index {int(node)} in {label}{where(field, k)}")
        if int(node) > _MAX_NODE:
            raise ValueError(f"node index {int(node)} in {label} is out of range (at most {_MAX_NODE})"
                             f"{where(field, k)}")
    if arity == 2:
        node = 2 + k // 2
        if int(nodes[0]) >= node:
            raise ValueError(f"input {int(nodes[0])} of {label} is out of range: edge {k} feeds node {node}, "
                             f"which can only read nodes 0..{node - 1}{where(field, k)}")
    else:
        to_node, from_node = int(nodes[0]), int(nodes[1])
        if to_node < 2:
            raise ValueError(f"{label} targets node {to_node}, but nodes 0 and 1 are the cell inputs"
                             f"{where(field, k)}")
        if from_node >= to_node:
            raise ValueError(f"{label} reads node {from_node} into node {to_node}; edges must go from an "
                             f"earlier node to a later one{where(field, k)}")


def _check_concat(field: str, concat: object, last_node: int, where: Callable[[str, int | None], str]) -> None:
    if not isinstance(concat, (list, tuple, range)):
        raise ValueError(f"{field} must be a list or range of node indices, got {concat!r}{where(field, None)}")
    size = concat.__len__() if not isinstance(concat, range) else max(  # len() of range(2, 10**30) overflows
        0, -(-(concat.stop - concat.start) // concat.step))
    if size > _MAX_NODE:
        raise ValueError(f"{field} lists {size} nodes; at most {_MAX_NODE}{where(field, None)}")
    nodes = list(concat)
    if not nodes:
        raise ValueError(f"{field} is empty: a cell must output at least one node{where(field, None)}")
    for node in nodes:
        if isinstance(node, bool) or not hasattr(node, "__index__"):
            raise ValueError(f"{field} holds {node!r}, not a node index{where(field, None)}")
        if not 2 <= int(node) <= last_node:
            raise ValueError(f"{field} names node {int(node)}, outside the intermediate nodes "
                             f"2..{last_node}{where(field, None)}")
    if len(set(int(n) for n in nodes)) != len(nodes):
        raise ValueError(f"{field} repeats a node: {nodes}{where(field, None)}")


def _validate(genotype: object, where: Callable[[str, int | None], str] = _no_position) -> None:
    if not isinstance(genotype, tuple) or getattr(genotype, "_fields", None) != _FIELDS:
        raise ValueError(f"expected a Genotype, got {type(genotype).__name__}")
    arity: int | None = None
    for field in _CELL_FIELDS:
        edges = getattr(genotype, field)
        if not isinstance(edges, (list, tuple)):
            raise ValueError(f"{field} must be a list of edges, got {type(edges).__name__}{where(field, None)}")
        for k, edge in enumerate(edges):
            if arity is None and isinstance(edge, tuple):
                arity = len(edge)
            _check_edge(field, k, edge, arity or 0, where)
    for field in _CELL_FIELDS:
        edges = getattr(genotype, field)
        if arity is None:  # FairDARTS' threshold rule may keep no op at all: valid, if useless
            _check_concat(f"{field}_concat", getattr(genotype, f"{field}_concat"), _MAX_NODE, where)
            continue
        if arity == 2 and not edges:
            raise ValueError(f"{field} has no edges; a DARTS cell needs two (op, input) pairs per "
                             f"intermediate node{where(field, None)}")
        if arity == 2 and len(edges) % 2:
            raise ValueError(f"{field} has {len(edges)} (op, input) pairs; DARTS cells need two per "
                             f"intermediate node, so an even number{where(field, None)}")
        if arity == 3:
            last_node = _MAX_NODE
        else:
            last_node = 1 + len(edges) // 2
        _check_concat(f"{field}_concat", getattr(genotype, f"{field}_concat"), last_node, where)


def validate_genotype(genotype: Genotype) -> Genotype:
    """Check op names against :data:`dartslib.space.ops.OPS`, node indices and concat lists; return ``genotype``.

    Raises:
        ValueError: naming the offending field and edge, e.g. ``normal[3]``.
    """
    _validate(genotype)
    return genotype


# ------------------------------------------------------------------------------------- public helpers

def parse_genotype(text: GenotypeLike) -> Genotype:
    """Parse genotype text, a published name, or pass a :data:`Genotype` through (validated).

    Accepted text: ``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])`` with
    keyword or positional values, either quote style, any whitespace, trailing commas, tuples or lists,
    edges ``(op, input)`` or ``(op, to_node, from_node)``, concat as a list or ``range(a, b)``. Published
    names (:func:`published_names`, plus the alias ``"DARTS"`` for ``"DARTS_V2"``) are looked up.

    Raises:
        ValueError: on malformed text (with the character position), unknown ops or names, out-of-range
            node indices, missing or repeated fields, trailing text, or text over 100,000 characters.
    """
    if isinstance(text, tuple) and getattr(text, "_fields", None) == _FIELDS:
        return validate_genotype(text)  # type: ignore[arg-type]
    if not isinstance(text, str):
        raise ValueError(f"expected genotype text, a published name or a Genotype, got {type(text).__name__}")
    return _parse_text(text)[0]


_Where = Callable[[str, Union[int, None]], str]
"""``where(field, k)``: " (at position N)" for edge ``k`` of ``field`` (``k=None``: the field), or ""."""


def _parse_text(text: str) -> tuple[Genotype, _Where]:
    """Parse and validate genotype text or a published name; also return the text positions of its fields
    (for later errors about the parsed genotype, e.g. :func:`dartslib.arch.architecture.parse_architecture`'s
    empty cells)."""
    if len(text) > MAX_GENOTYPE_CHARS:
        raise ValueError(f"genotype text has {len(text)} characters; the limit is {MAX_GENOTYPE_CHARS}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty genotype text")
    if stripped.isidentifier() and stripped != "Genotype":
        return published_genotype(stripped), _no_position
    parser = _Parser(text)
    genotype = parser.parse()

    def where(field: str, k: int | None) -> str:
        pos = parser.positions.get((field, k), parser.positions.get((field, None)))
        return "" if pos is None else f" (at position {pos})"

    _validate(genotype, where)
    return genotype, where


def _format_concat(concat: list[int] | range | tuple[int, ...]) -> str:
    if isinstance(concat, range):
        return repr(concat)
    return "[" + ", ".join(str(int(n)) for n in concat) + "]"


def _format_edge(edge: Edge) -> str:
    op, *nodes = edge
    return "(" + ", ".join([repr(str(op))] + [str(int(n)) for n in nodes]) + ")"


def format_genotype(genotype: Genotype, multiline: bool = False) -> str:
    """The canonical text of ``genotype``: what ``str(g)`` prints for a list-built genotype.

    Integers are printed as plain ints (numpy integers included), tuples of edges as lists and a range
    concat as ``range(a, b)``. ``multiline=True`` puts each field on its own line (still parseable).
    """
    validate_genotype(genotype)
    return _format_fields(genotype, multiline)


def _format_fields(genotype: Genotype, multiline: bool = False) -> str:
    """:func:`format_genotype` without the validation."""
    parts = []
    for field in _FIELDS:
        value = getattr(genotype, field)
        if field in _CELL_FIELDS:
            text = "[" + ", ".join(_format_edge(e) for e in value) + "]"
        else:
            text = _format_concat(value)
        parts.append(f"{field}={text}")
    if multiline:
        return "Genotype(\n    " + ",\n    ".join(parts) + ",\n)"
    return "Genotype(" + ", ".join(parts) + ")"


def normalize_genotype(genotype: GenotypeLike) -> Genotype:
    """``genotype`` with lists of plain-int tuples and every concat as a list (for comparisons)."""
    g = parse_genotype(genotype)
    cells = {f: [(str(e[0]),) + tuple(int(n) for n in e[1:]) for e in getattr(g, f)] for f in _CELL_FIELDS}
    concats = {f"{f}_concat": [int(n) for n in getattr(g, f"{f}_concat")] for f in _CELL_FIELDS}
    return Genotype(**cells, **concats)


def same_genotype(a: GenotypeLike, b: GenotypeLike) -> bool:
    """Whether two genotypes describe the same cells, however their concat is spelled."""
    return normalize_genotype(a) == normalize_genotype(b)


def genotype_edges(genotype: GenotypeLike, cell: str) -> list[tuple[str, int, int]]:
    """The edges of ``cell`` (``"normal"`` or ``"reduce"``) as ``(op, to_node, from_node)`` triples.

    DARTS pairs become triples with ``to_node = 2 + k // 2`` for the ``k``-th pair (Liu et al., 2019).
    """
    if cell not in _CELL_FIELDS:
        raise ValueError(f"unknown cell {cell!r}; choose from: {', '.join(_CELL_FIELDS)}")
    return as_genotype(parse_genotype(genotype)).edges(cell)


def as_genotype(genotype: tuple) -> Genotype:
    """``genotype`` as a :class:`Genotype` (a namedtuple with the same fields, e.g. a DARTS repository's
    own, is copied into one; not validated)."""
    return genotype if isinstance(genotype, Genotype) else Genotype._make(genotype)


# -------------------------------------------------------------------------------- published genotypes

@lru_cache(maxsize=1)
def _published_records() -> Mapping[str, Mapping[str, str]]:
    """The shipped JSON's ``genotypes`` table (read once; the cached value is never mutated)."""
    resource = files("dartslib").joinpath("resources").joinpath("published_genotypes.json")
    data = json.loads(resource.read_text(encoding="utf-8"))
    return {name: dict(record) for name, record in data["genotypes"].items()}


def published_names() -> list[str]:
    """Names of the shipped published CIFAR-10 cells, in file order (e.g. ``"DARTS_V2"``, ``"FairDARTS_a"``)."""
    return list(_published_records())


def _resolve_name(name: str) -> str:
    records = _published_records()
    name = _PUBLISHED_ALIASES.get(name, name)
    if name in records:
        return name
    folded = [n for n in records if n.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    raise ValueError(f"unknown genotype name {_shorten(name)!r}; published names: {', '.join(records)}")


def published_genotype(name: str) -> Genotype:
    """The published genotype ``name`` (exact, case-insensitive, or the alias ``"DARTS"``), freshly parsed."""
    text = _published_records()[_resolve_name(name)]["genotype"]
    genotype = _Parser(text).parse()
    _validate(genotype)
    return genotype


def published_metadata(name: str) -> dict[str, str]:
    """``{"paper": ..., "repository": ..., "genotype": text}`` for a published genotype."""
    return dict(_published_records()[_resolve_name(name)])


class _PublishedGenotypes(Mapping[str, Genotype]):
    """Read-only ``name -> Genotype`` view of the published cells; each lookup returns a fresh copy."""

    def __getitem__(self, name: str) -> Genotype:
        try:
            return published_genotype(name)
        except ValueError as error:
            raise KeyError(name) from error

    def __iter__(self) -> Iterator[str]:
        return iter(published_names())

    def __len__(self) -> int:
        return len(published_names())

    def __repr__(self) -> str:
        return f"PUBLISHED({', '.join(published_names())})"


PUBLISHED: Mapping[str, Genotype] = _PublishedGenotypes()
"""``PUBLISHED["DARTS_V2"]`` etc.; see :func:`published_genotype`."""
