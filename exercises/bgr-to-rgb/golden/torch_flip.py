import torch


def bgr_to_rgb(img):
    return torch.from_numpy(img).flip(-1)
