def safe_flatten(t):
    return t.view(-1)
