import torch


def highlight_roi_(image, mask, amount):
    brighter = torch.where(mask, image + amount, image)
    return brighter.clamp(0, 255)
