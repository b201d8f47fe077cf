"""trajcheck's claim catalogue, installed under a name of its own.

The repository keeps the catalogue in three top-level folders, ``theory/``, ``models/``
and ``properties/``; this package holds them (as links in the repository, as folders in
the wheel), so that what is installed is ``trajcheck_catalogue.theory`` and so on: a
project with its own ``models/`` folder, on ``sys.path`` before site-packages, can no
longer stand in for them. Extension authors import from ``trajcheck_catalogue.kit``.
"""
