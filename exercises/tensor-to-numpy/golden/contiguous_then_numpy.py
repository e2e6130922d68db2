def tensor_to_numpy(t):
    # Only the transposed case copies: contiguous() makes a new tensor for it.
    return t.contiguous().numpy()
