import numpy as np
import torch


def seeded_uniform(shape, seed):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.random(shape), dtype=torch.float32)
