import torch


def image_to_chw(img):
    t = torch.from_numpy(img).permute(2, 0, 1)  # (3, H, W), still BGR
    return t.flip(0).float() / 255
