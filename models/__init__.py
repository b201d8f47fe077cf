"""Instantiations of the claims' assumptions as torch models, batched over instances."""
