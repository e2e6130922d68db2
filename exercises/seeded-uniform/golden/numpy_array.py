import numpy as np


def seeded_uniform(shape, seed):
    return np.random.default_rng(seed).random(shape)
