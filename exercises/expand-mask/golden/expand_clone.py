def expand_mask(mask, image):
    return mask.expand_as(image).clone()
