import numpy as np
import torch


def image_to_chw(img):
    rgb = img[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    return torch.from_numpy(rgb.copy())
