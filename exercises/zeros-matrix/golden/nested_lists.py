def zeros_matrix(rows, cols):
    return [[0.0] * cols for _ in range(rows)]
