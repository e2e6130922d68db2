def detach_share(x):
    # Accepted: .data also shares memory and does not require grad (but autograd cannot warn
    # you about later in-place changes through it, so prefer .detach()).
    return x.data
