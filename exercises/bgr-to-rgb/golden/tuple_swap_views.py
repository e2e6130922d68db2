import numpy as np
def bgr_to_rgb(img):
    img[:, :, 0], img[:, :, 2] = img[:, :, 2], img[:, :, 0]
    return img
