import torch


def seeded_uniform(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape)
