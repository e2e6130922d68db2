import torch


def image_to_chw(img):
    return torch.tensor(img[..., ::-1]).permute(2, 0, 1) / 255
