"""Discrete architectures: DARTS genotypes and NB201 strings (parsing, no eval), derivation, the
evaluation networks, and parameter counting.

:func:`parse_architecture` reads either notation and returns one architecture type
(:class:`~dartslib.arch.genotype.Genotype` or :class:`~dartslib.arch.architecture.NB201Arch`).
"""
from dartslib.arch.architecture import Architecture, ArchitectureLike, NB201Arch, parse_architecture

__all__ = ["Architecture", "ArchitectureLike", "NB201Arch", "parse_architecture"]
