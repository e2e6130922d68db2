import torch


def select_rows(t, rows):
    result = []
    for i in rows:
        result.append(t[i])
    return torch.stack(result)
