import torch


def concat(a, b, dim):
    # torch.concatenate is an alias of torch.cat; a list works as well as a tuple.
    return torch.concatenate([a, b], dim)
