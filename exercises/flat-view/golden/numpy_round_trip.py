import torch


def flat_view(t):
    # t.numpy() and torch.from_numpy both share memory, so this is still a view of t.
    return torch.from_numpy(t.numpy().reshape(-1))
