import torch


def select_rows(t, rows):
    return torch.tensor([t[i].tolist() for i in rows])
