def no_grad_scale(x, k):
    y = x * k
    y.requires_grad_(False)
    return y
