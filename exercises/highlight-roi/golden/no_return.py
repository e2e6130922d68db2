def highlight_roi_(image, mask, amount):
    image[mask.expand_as(image)] += amount
    image.clamp_(0, 255)
