def highlight_roi_(image, mask, amount):
    # mask * amount has shape (H, W) and broadcasts over the channels; add_ and clamp_ work in
    # place and return image itself.
    return image.add_(mask * amount).clamp_(0, 255)
