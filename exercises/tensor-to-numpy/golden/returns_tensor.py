def tensor_to_numpy(t):
    return t
