def infer_reshape(t, rows):
    return t.reshape(rows, t.numel() / rows)
