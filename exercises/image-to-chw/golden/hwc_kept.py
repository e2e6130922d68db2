import torch


def image_to_chw(img):
    return torch.from_numpy(img[..., ::-1].copy()).float() / 255
