import torch


def image_to_chw(img):
    rgb = img[..., ::-1] / 255  # NumPy division: float64
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy())
