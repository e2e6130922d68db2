def bgr_to_rgb(img):
    # Fancy indexing with a list picks channels 2, 1, 0 into a new array (a copy).
    return img[:, :, [2, 1, 0]]
