import math

import torch


def softplus(x):
    values = [max(v.item(), 0) + math.log1p(math.exp(-abs(v.item()))) for v in x.reshape(-1)]
    return torch.tensor(values, dtype=x.dtype).reshape(x.shape)
