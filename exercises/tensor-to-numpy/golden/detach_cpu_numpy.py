def tensor_to_numpy(t):
    # The defensive idiom: detach and cpu return the same tensor (no copy) for a CPU tensor
    # that does not require grad.
    return t.detach().cpu().numpy()
