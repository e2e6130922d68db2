def safe_flatten(t):
    if t.is_contiguous():
        return t.view(-1)
    # "t was transposed, so transpose it back before flattening"
    return t.transpose(0, -1).reshape(-1)
