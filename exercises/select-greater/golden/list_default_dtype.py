import torch


def select_greater(t, threshold):
    return torch.tensor([x for x in t.flatten().tolist() if x > threshold])
