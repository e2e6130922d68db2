def safe_flatten(t):
    return t.numpy().flatten()
