import torch


def to_uint8_image(x):
    return (x * 255).round().clamp(0, 255).to(torch.int8)
