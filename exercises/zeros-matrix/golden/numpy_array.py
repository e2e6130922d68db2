import numpy as np


def zeros_matrix(rows, cols):
    return np.zeros((rows, cols), dtype=np.float32)
