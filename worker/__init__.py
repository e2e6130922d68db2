"""The grading worker: exercises, cases, checks, the trusted pipeline and the sandbox.

Nothing in this package imports Flask or the web package ``grader``; the web process may import
only :mod:`worker.protocol` and :mod:`worker.spec`, which never import torch.
"""
