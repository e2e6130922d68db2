import torch


def seeded_uniform(shape, seed):
    torch.manual_seed(seed)
    return torch.rand(shape)
