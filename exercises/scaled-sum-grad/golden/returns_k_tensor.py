import torch


def scaled_sum_grad(x, k):
    return torch.tensor(k, dtype=x.dtype)
