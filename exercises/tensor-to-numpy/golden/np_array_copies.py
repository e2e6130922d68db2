import numpy as np


def tensor_to_numpy(t):
    return np.array(t)
