import numpy as np
import torch


def normalize(x, mean, std):
    m = torch.from_numpy(np.array(mean)).to(x.device).view(-1, 1, 1)
    s = torch.from_numpy(np.array(std)).to(x.device).view(-1, 1, 1)
    return (x - m) / s
