import torch


def select_greater(t, threshold):
    out = []
    for x in t.flatten():
        if x > threshold:
            out.append(x)
    return torch.stack(out)
