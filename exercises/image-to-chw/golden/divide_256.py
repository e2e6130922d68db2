import torch


def image_to_chw(img):
    return torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float() / 256
