import torch


def image_to_chw(img):
    t = torch.from_numpy(img[..., ::-1].copy())
    return t.permute(2, 1, 0).float() / 255
