"""The code that runs next to the learner's, inside the sandbox.

It loads the submission, calls the learner's function on each case and streams observations
back over a pipe as frames (see :mod:`worker.harness.frames`). It decides nothing.
"""
