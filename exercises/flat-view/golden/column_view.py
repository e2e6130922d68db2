def flat_view(t):
    return t.view(-1, 1)
