def sgd_step(w, b, x, y, lr):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    w.data = w.data - lr * w.grad
    b.data = b.data - lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    return loss.item()
