import torch


def to_uint8_image(x):
    # Doing the arithmetic in float32 even for a float64 input is precise enough for bytes.
    y = x.float() * 255.0
    y = torch.round(y)
    y = torch.clamp(y, 0.0, 255.0)
    return y.type(torch.uint8)
