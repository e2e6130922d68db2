def select_greater(t, threshold):
    flat = t.view(-1)
    return flat[flat > threshold]
