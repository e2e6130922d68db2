def detach_share(x):
    x.requires_grad_(False)
    return x
