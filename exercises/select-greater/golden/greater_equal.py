def select_greater(t, threshold):
    return t[t >= threshold]
