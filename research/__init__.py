"""Research that is not part of the installed plugin: how the default model was trained, and the oracle
experiments that validate the decoding engine against closed forms (they use the package, never the reverse).

Run from a source checkout (the repository root on ``sys.path``, as ``pip install -e .`` puts it):
``python -m research.default_model`` retrains the default model; ``python -m research.oracle_experiments``
and ``python benchmarks/block_hmm.py`` print the oracle tables.
"""
