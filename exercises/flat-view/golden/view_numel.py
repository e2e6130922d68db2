def flat_view(t):
    return t.view(t.numel())
