import numpy as np


def tensor_to_numpy(t):
    # np.asarray asks the tensor for its array interface: no copy for a CPU tensor.
    return np.asarray(t)
