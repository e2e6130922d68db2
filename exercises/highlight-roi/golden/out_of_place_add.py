import torch
def highlight_roi_(image, mask, amount):
    image = image + amount * mask
    image.clamp_(0, 255)
    return image
