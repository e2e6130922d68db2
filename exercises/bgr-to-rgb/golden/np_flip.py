import numpy as np


def bgr_to_rgb(img):
    # np.flip along the channel axis returns a view, like img[..., ::-1].
    return np.flip(img, axis=2)
