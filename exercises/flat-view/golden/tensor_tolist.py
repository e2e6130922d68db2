import torch


def flat_view(t):
    return torch.tensor(t.flatten().tolist())
