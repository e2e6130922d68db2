import torch


def image_to_chw(img):
    h, w, c = img.shape
    t = torch.from_numpy(img[..., ::-1].copy())
    return t.reshape(c, h, w).float() / 255
