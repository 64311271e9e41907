"""The search space: candidate ops, the spaces (cells, edges, op lists), op-weight forms and the supernet.
"""
