"""Properties: Hypothesis strategies and measures that bind each claim to a model.

The engine finds every module-level ``Property`` in this package through the entry point
``trajcheck.claims = builtin -> properties``; a new file here is picked up as it is.
"""

#: The families in the order the catalogue shows them (``trajcheck list``, the reports);
#: the helper modules (strategies, builders, sketches, pep) define no property.
__all__ = ["convergence", "cot", "decomposition", "descent", "icl", "meta", "paper", "smoothing"]
