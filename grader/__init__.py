"""The web side of the grader: the Flask app, its REST API and pages, and the ``grader`` command.

This package never imports torch and never runs learner code; it may import only the torch-free
modules :mod:`worker.protocol`, :mod:`worker.spec` and :mod:`worker.submission`.
"""
