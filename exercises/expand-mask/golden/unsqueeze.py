def expand_mask(mask, image):
    return mask.unsqueeze(0)
