import torch


def image_to_chw(img):
    t = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
    t /= 255
    return t.float()
