def expand_mask(mask, image):
    # -1 keeps a dimension's size; the new leading dimension is the number of channels.
    return mask.expand(image.shape[0], -1, -1)
