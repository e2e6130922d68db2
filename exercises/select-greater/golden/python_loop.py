import torch


def select_greater(t, threshold):
    # A Python loop is slow but correct, as long as the dtype is kept (also for an empty list).
    kept = [x for x in t.flatten().tolist() if x > threshold]
    return torch.tensor(kept, dtype=t.dtype)
