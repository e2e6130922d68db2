def expand_mask(mask, image):
    return mask.repeat(image.shape[0], 1, 1)
