"""Discrete architectures: DARTS genotypes and NB201 strings (parsing, no eval), derivation, the
evaluation networks, and parameter counting.
"""
