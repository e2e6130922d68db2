import torch


def image_to_chw(img):
    t = torch.from_numpy(img).permute(2, 0, 1)
    return t[::-1].float() / 255
