def select_greater(t, threshold):
    return t > threshold
