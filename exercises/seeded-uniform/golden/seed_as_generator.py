import torch


def seeded_uniform(shape, seed):
    return torch.rand(shape, generator=seed)
