def select_rows(t, rows):
    return t[:, rows]
