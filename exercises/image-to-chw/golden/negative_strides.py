import torch


def image_to_chw(img):
    return torch.from_numpy(img[..., ::-1]).permute(2, 0, 1).float() / 255
