import torch


def sgd_step(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             lr: float) -> float:
    """One step of gradient descent for linear regression with the mean squared error.

    w: (d,) weights and b: () bias, both leaves with requires_grad=True; x: (n, d) inputs;
    y: (n,) targets; lr: the learning rate.

    Compute the loss mean((x @ w + b - y) ** 2), backpropagate it, update ``w`` and ``b`` in
    place (w <- w - lr * dloss/dw, the same for b) without recording the update in the graph,
    zero their gradients, and return the loss (before the update) as a Python float.
    """
    raise NotImplementedError
