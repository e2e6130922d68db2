import torch


def image_to_chw(img):
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255
