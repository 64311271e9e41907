"""One architecture type: a DARTS :class:`~dartslib.arch.genotype.Genotype` or an :class:`NB201Arch`.

:func:`parse_architecture` is the one place that tells the two notations apart: text whose first
non-blank character is ``|`` is a NAS-Bench-201 string (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, Dong &
Yang, ICLR 2020), anything else is DARTS genotype text or a published name (Liu et al., ICLR 2019;
:func:`dartslib.arch.genotype.parse_genotype`). Neither parser uses ``eval``; both report the character
position of a mistake and what was expected there.

Both kinds offer the same interface:

* ``arch.topology``: ``"darts"`` or ``"nb201"``, as :attr:`dartslib.space.spaces.SearchSpace.topology`;
* ``arch.cells``: the cell names, ``("normal", "reduce")`` or ``("cell",)``;
* ``arch.edges(cell)``: the cell's edges as ``(op, to_node, from_node)`` triples (an NB201 cell lists
  all 6 edges in :data:`dartslib.space.spaces.NB201_EDGES` order, ``none`` included);
* ``arch.empty_cells()``: the cells that compute nothing (a DARTS cell with no edge, an NB201 cell of
  all ``none``), which :func:`parse_architecture` refuses unless ``allow_empty=True``;
* ``str(arch)``: the canonical text dartslib writes (:func:`~dartslib.arch.genotype.format_genotype`,
  :func:`format_nb201_arch`), so ``parse_architecture(str(a)) == a``; and ``==``.

The NAS-Bench-201 string parser and formatter live here (re-exported by :mod:`dartslib.arch.nb201`,
which builds the network).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from dartslib.arch.genotype import _FIELDS, Genotype, _parse_text, as_genotype, validate_genotype
from dartslib.space.spaces import NB201_EDGES, NB201_OPS

__all__ = ["Architecture", "ArchitectureLike", "NB201Arch", "parse_architecture", "is_nb201_arch",
           "parse_nb201_arch", "format_nb201_arch", "NB201_NUM_NODES"]

NB201_NUM_NODES = 4
_MAX_ARCH_CHARS = 1_000


# ------------------------------------------------------------------------------------- NB201 strings

def _check_op(op: str, where: str) -> None:
    if op not in NB201_OPS:
        raise ValueError(f"unknown NAS-Bench-201 op {op!r} {where}; known ops: {', '.join(NB201_OPS)}")


def parse_nb201_arch(text: str) -> tuple[str, ...]:
    """The 6 edge ops of an architecture string, ordered (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).

    Surrounding whitespace is ignored; everything else is strict: exactly three ``+``-separated node
    groups, each wrapped in ``|``, node ``j`` listing inputs ``~0`` .. ``~j-1`` in order, ops from
    :data:`dartslib.space.spaces.NB201_OPS`. An all-``none`` cell is accepted (see
    :func:`parse_architecture` for the check).

    Raises:
        ValueError: naming the node group, the bad entry and its character position in ``text``.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a NAS-Bench-201 architecture string, got {type(text).__name__}")
    if len(text) > _MAX_ARCH_CHARS:
        raise ValueError(f"architecture string has {len(text)} characters; the limit is {_MAX_ARCH_CHARS}")
    arch = text.strip()
    start = len(text) - len(text.lstrip())
    groups = arch.split("+")
    if len(groups) != NB201_NUM_NODES - 1:
        extra = (f"; the extra group starts at position {start + sum(len(g) + 1 for g in groups[:3])}"
                 if len(groups) > NB201_NUM_NODES - 1 else f"; the text ends at position {start + len(arch)}")
        raise ValueError(f"expected {NB201_NUM_NODES - 1} node groups separated by '+', got {len(groups)} "
                         f"in {arch!r}{extra}")
    ops: list[str] = []
    pos = start
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise ValueError(f"node {node} group {group!r} must be written |op~0|...| (at position {pos})")
        entries = group[1:-1].split("|")
        if len(entries) != node:
            raise ValueError(f"node {node} must have {node} input(s), got {len(entries)} in {group!r} "
                             f"(at position {pos})")
        entry_pos = pos + 1
        for expected_input, entry in enumerate(entries):
            where = f"in node {node} entry {entry!r} at position {entry_pos}"
            op, sep, index = entry.partition("~")
            if not sep or "~" in index:
                raise ValueError(f"malformed entry {where}: expected op~input")
            _check_op(op, where)
            if not (index.isascii() and index.isdigit()) or int(index) != expected_input:
                raise ValueError(f"wrong input index {index!r} {where}: node {node} must list inputs "
                                 f"~0..~{node - 1} in order, so this entry needs ~{expected_input}")
            ops.append(op)
            entry_pos += len(entry) + 1
        pos += len(group) + 1
    return tuple(ops)


def format_nb201_arch(ops: Sequence[str]) -> str:
    """The architecture string of 6 edge ops given in :data:`NB201_EDGES` order (inverse of parsing)."""
    ops = tuple(ops)
    if len(ops) != len(NB201_EDGES):
        raise ValueError(f"NAS-Bench-201 cells have {len(NB201_EDGES)} edges, got {len(ops)} ops")
    groups: list[list[str]] = [[] for _ in range(NB201_NUM_NODES - 1)]
    for k, (op, (to, src)) in enumerate(zip(ops, NB201_EDGES)):
        _check_op(op, f"at edge {k} ({to}<-{src})")
        groups[to - 1].append(f"{op}~{src}")
    return "+".join("|" + "|".join(group) + "|" for group in groups)


@dataclass(frozen=True)
class NB201Arch:
    """The NAS-Bench-201 kind of :data:`Architecture`: the 6 edge ops of its one cell, in
    :data:`dartslib.space.spaces.NB201_EDGES` order. Checked on construction; ``str()`` is the
    architecture string."""

    ops: tuple[str, ...]
    topology = "nb201"
    cells = ("cell",)

    def __post_init__(self) -> None:
        ops = self.ops
        if isinstance(ops, str) or not isinstance(ops, Sequence):
            raise ValueError(f"NB201Arch takes the 6 edge ops as a sequence, got {type(ops).__name__}; "
                             "parse text with parse_architecture")
        format_nb201_arch(ops)  # checks the count and every op
        object.__setattr__(self, "ops", tuple(str(op) for op in ops))

    def edges(self, cell: str = "cell") -> list[tuple[str, int, int]]:
        """The 6 edges of the cell as ``(op, to_node, from_node)``, ``none`` edges included."""
        if cell != "cell":
            raise ValueError(f"an NB201 architecture has one cell, 'cell'; got {cell!r}")
        return [(op, to, src) for op, (to, src) in zip(self.ops, NB201_EDGES)]

    def empty_cells(self) -> tuple[str, ...]:
        """``("cell",)`` if every edge is ``none`` (the cell outputs zeros), else ``()``."""
        return ("cell",) if all(op == "none" for op in self.ops) else ()

    def __str__(self) -> str:
        return format_nb201_arch(self.ops)


Architecture = Union[Genotype, NB201Arch]
"""A discrete architecture of either kind, as :func:`parse_architecture` returns it."""

ArchitectureLike = Union[str, Genotype, NB201Arch]
"""What :func:`parse_architecture` reads: text of either notation, a published name, or an architecture."""


# --------------------------------------------------------------------------------------- parsing

def _is_nb201_text(text: str) -> bool:
    """The one test of the notation: an NB201 string starts with ``|``; DARTS text never does."""
    return text.lstrip().startswith("|")


def is_nb201_arch(arch: object) -> bool:
    """Whether ``arch`` is an NB201 architecture (an :class:`NB201Arch`, or text in the ``|op~0|+|...``
    notation) rather than a DARTS genotype. Text is not checked here: :func:`parse_architecture` parses it
    as whichever notation this names, so a malformed NB201 string gets the NB201 parser's error."""
    return isinstance(arch, NB201Arch) or (isinstance(arch, str) and _is_nb201_text(arch))


def parse_architecture(text: ArchitectureLike, *, allow_empty: bool = False) -> Architecture:
    """Parse architecture text of either notation, or pass an architecture through (checked).

    Args:
        text: an NB201 string (``|nor_conv_3x3~0|+|...``), DARTS genotype text (``Genotype(normal=[...],
            ...)``) or a published genotype name (:func:`dartslib.arch.genotype.published_names`), or a
            :class:`~dartslib.arch.genotype.Genotype` (any namedtuple with its fields) or :class:`NB201Arch`.
        allow_empty: accept cells that compute nothing: a DARTS cell with an empty edge list (FairDARTS'
            threshold rule may keep none) or an NB201 cell of all ``none`` (the argmax may pick it).

    Returns:
        a :class:`~dartslib.arch.genotype.Genotype` or an :class:`NB201Arch`.

    Raises:
        ValueError: with the character position and what was expected on malformed text (the messages of
            :func:`~dartslib.arch.genotype.parse_genotype` and :func:`parse_nb201_arch`), or naming the
            empty cell when ``allow_empty`` is False.
    """
    where = None
    if isinstance(text, NB201Arch):
        arch: Architecture = text
    elif isinstance(text, tuple) and getattr(text, "_fields", None) == _FIELDS:
        arch = as_genotype(validate_genotype(text))  # type: ignore[arg-type]
    elif isinstance(text, str):
        if _is_nb201_text(text):
            arch = NB201Arch(parse_nb201_arch(text))
        else:
            arch, where = _parse_text(text)
    else:
        raise ValueError(f"expected architecture text (an NB201 string, DARTS genotype text or a published "
                         f"name), a Genotype or an NB201Arch, got {type(text).__name__}")
    if not allow_empty:
        for cell in arch.empty_cells():
            if isinstance(arch, NB201Arch):
                raise ValueError(f"NB201 architecture {str(arch)!r} has 'none' on all 6 edges, so its cell "
                                 "outputs zeros; pass allow_empty=True to accept it")
            position = where(cell, None) if where else ""
            raise ValueError(f"DARTS genotype: the {cell} cell has no edge{position}; pass allow_empty=True "
                             "to accept it")
    return arch
