import torch


def highlight_roi_(image, mask, amount):
    image[:, mask] += amount
    torch.clamp(image, 0, 255, out=image)
    return image
