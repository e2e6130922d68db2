import torch


def to_uint8_image(x):
    # floor(v + 0.5) rounds to nearest; it differs from round() only exactly halfway.
    return torch.floor(x * 255 + 0.5).clamp(min=0, max=255).to(torch.uint8)
