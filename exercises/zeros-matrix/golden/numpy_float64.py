import numpy as np
import torch


def zeros_matrix(rows, cols):
    return torch.tensor(np.zeros((rows, cols)))
