def expand_mask(mask, image):
    height, width = mask.shape
    return mask.expand(3, height, width)
