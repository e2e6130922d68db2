import torch


def normalize(x, mean, std):
    # Python numbers are not tensors, so they never sit on the wrong device.
    out = torch.empty_like(x)
    for c in range(x.shape[0]):
        out[c] = (x[c] - mean[c]) / std[c]
    return out
