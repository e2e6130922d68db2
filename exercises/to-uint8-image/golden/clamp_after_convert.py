import torch


def to_uint8_image(x):
    return torch.round(x * 255).to(torch.uint8).clamp(0, 255)
