def highlight_roi_(image, mask, amount):
    image[mask] += amount
    image.clamp_(0, 255)
    return image
