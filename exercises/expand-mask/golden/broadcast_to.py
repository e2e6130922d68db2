import torch


def expand_mask(mask, image):
    return torch.broadcast_to(mask, image.shape)
