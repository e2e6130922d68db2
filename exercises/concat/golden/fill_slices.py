import torch


def concat(a, b, dim):
    # By hand: an output of the joined size, then copy each input into its slice.
    dim = dim % a.dim()
    shape = list(a.shape)
    shape[dim] = a.shape[dim] + b.shape[dim]
    out = torch.empty(shape, dtype=a.dtype)
    out.narrow(dim, 0, a.shape[dim]).copy_(a)
    out.narrow(dim, a.shape[dim], b.shape[dim]).copy_(b)
    return out
