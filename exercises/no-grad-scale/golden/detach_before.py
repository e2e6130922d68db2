def no_grad_scale(x, k):
    return x.detach() * k
