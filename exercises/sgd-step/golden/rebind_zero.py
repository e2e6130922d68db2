def sgd_step(w, b, x, y, lr):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    w = w - lr * w.grad
    b = b - lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    return loss.item()
