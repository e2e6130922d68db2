def bgr_to_rgb(img):
    img[..., [0, 2]] = img[..., [2, 0]]
    return img
