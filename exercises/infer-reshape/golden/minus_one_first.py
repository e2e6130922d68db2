def infer_reshape(t, rows):
    return t.reshape(-1, rows)
