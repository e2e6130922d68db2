def detach_share(x):
    return x.detach().view_as(x)
