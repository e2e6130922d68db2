import cv2
import torch


def image_to_chw(img):
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1) / 255.0
