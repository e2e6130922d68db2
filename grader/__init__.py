"""The web side of the grader: the Flask app, its REST API and pages, and the ``grader`` command.

This package never imports torch and never runs learner code. Of the grader's own packages it
imports only :mod:`common` (torch-free, shared with the workers), never :mod:`worker`; it sends
tasks to the workers by name.
"""
