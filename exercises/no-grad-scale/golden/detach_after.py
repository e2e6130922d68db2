def no_grad_scale(x, k):
    # Accepted: the recorded graph is dropped with the intermediate, nothing is kept.
    return (x * k).detach()
