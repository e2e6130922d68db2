def scaled_sum_grad(x, k):
    x.grad = None
    (x * k).sum().backward()
    return x.grad
