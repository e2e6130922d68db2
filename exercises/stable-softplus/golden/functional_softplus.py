import torch.nn.functional as F


def softplus(x):
    # Accepted (PyTorch's own stable softplus: it returns x itself above x = 20).
    return F.softplus(x)
