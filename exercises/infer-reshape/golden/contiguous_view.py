def infer_reshape(t, rows):
    # .contiguous() returns t itself when it is already contiguous, so the view shares memory.
    return t.contiguous().view(rows, -1)
