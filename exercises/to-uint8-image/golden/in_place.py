import torch


def to_uint8_image(x):
    x *= 255
    x.round_()
    x.clamp_(0, 255)
    return x.to(torch.uint8)
