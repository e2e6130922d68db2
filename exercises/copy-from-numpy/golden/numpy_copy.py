import numpy as np


def copy_from_numpy(arr):
    return np.copy(arr)
