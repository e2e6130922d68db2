"""The grading worker: exercises, cases, checks, the trusted pipeline and the sandbox.

Nothing in this package imports Flask or the web package ``grader``; what the web shares with
the workers (task contract, records, store, exercise format) lives in :mod:`common`.
"""
