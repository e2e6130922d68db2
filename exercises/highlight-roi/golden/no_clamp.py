def highlight_roi_(image, mask, amount):
    image[mask.expand_as(image)] += amount
    return image
