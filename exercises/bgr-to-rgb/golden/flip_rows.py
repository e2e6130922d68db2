def bgr_to_rgb(img):
    return img[::-1]
