import torch


def select_rows(t, rows):
    return torch.index_select(t, 1, rows)
