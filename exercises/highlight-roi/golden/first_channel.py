def highlight_roi_(image, mask, amount):
    image[0, mask] += amount
    image.clamp_(0, 255)
    return image
