def scaled_sum_grad(x, k):
    out = x * k
    return out.detach()
