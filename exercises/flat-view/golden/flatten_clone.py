def flat_view(t):
    return t.flatten().clone()
