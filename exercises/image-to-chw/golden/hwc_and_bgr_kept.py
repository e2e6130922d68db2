import torch


def image_to_chw(img):
    return torch.from_numpy(img).float() / 255
