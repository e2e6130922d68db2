import torch


def to_uint8_image(x):
    # Clamping to [0, 1] before scaling gives the same bytes as clamping to [0, 255] after.
    return (x.clamp(0, 1) * 255).round().byte()
