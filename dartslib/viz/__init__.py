"""Figures: the shared style, cell drawings, and the plots of the chapters.
"""
