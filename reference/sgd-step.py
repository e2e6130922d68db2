"""Reference solution of sgd-step (never shown to learners), and its wrong twins."""

import torch


def sgd_step(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             lr: float) -> float:
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    return loss.item()


# Wrong twins: what the learner's returned loss is for two known mistakes.
def sum_loss(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             lr: float) -> float:
    with torch.no_grad():
        return ((x @ w + b - y) ** 2).sum().item()


def loss_after_update(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                      lr: float) -> float:
    sgd_step(w, b, x, y, lr)
    with torch.no_grad():
        return ((x @ w + b - y) ** 2).mean().item()
