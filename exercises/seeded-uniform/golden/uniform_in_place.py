import torch


def seeded_uniform(shape, seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.empty(tuple(shape)).uniform_(0, 1, generator=g)
