import numpy as np
import torch


def seeded_uniform(shape, seed):
    np.random.seed(seed)
    return torch.from_numpy(np.random.rand(*shape))
