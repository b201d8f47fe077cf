"""The claim catalogue as data, one module per family, and the bound functions.

Bound functions are pure arithmetic that works on floats, numpy arrays and torch tensors
alike (``array_api_compat`` picks the namespace), so that a statement can be read and its
bound computed without importing a framework.
"""
