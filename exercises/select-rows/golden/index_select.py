import torch


def select_rows(t, rows):
    return torch.index_select(t, 0, rows)
