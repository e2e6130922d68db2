def scaled_sum_grad(x, k):
    x.grad = None
    out = (x * k).sum()
    return x.grad
