import numpy as np


def image_to_chw(img):
    return np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1), dtype=np.float32) / 255
