import torch


def select_rows(t, rows):
    keep = torch.zeros(t.shape[0], dtype=torch.bool)
    keep[rows] = True
    return t[keep]
