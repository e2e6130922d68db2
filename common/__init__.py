"""What the web side and the grading side share, torch-free: the task contract (task names
and queues), the records kept in Redis and the store that keeps them, the exercise format and
its loader, and how a submission's source is read.

Never imports torch, NumPy, OpenCV, Flask or the sandbox (``tests/test_boundaries.py``).
"""
