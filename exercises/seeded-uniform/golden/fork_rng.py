import torch


def seeded_uniform(shape, seed):
    # fork_rng saves the global state and restores it on exit, so manual_seed inside is harmless.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torch.rand(*shape)
