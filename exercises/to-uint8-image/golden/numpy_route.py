import numpy as np
import torch


def to_uint8_image(x):
    scaled = np.rint(x.numpy() * 255)
    return torch.from_numpy(np.clip(scaled, 0, 255).astype(np.uint8))
