def no_grad_scale(x, k):
    x.requires_grad_(False)
    return x * k
