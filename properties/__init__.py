"""Properties: Hypothesis strategies and measures that bind each claim to a model.

The engine finds every module-level ``Property`` in this package through the entry point
``trajcheck.claims = builtin -> properties``; a new file here is picked up as it is.
"""
