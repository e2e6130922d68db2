import numpy as np
import torch


def copy_from_numpy(arr: np.ndarray) -> torch.Tensor:
    """Return a tensor with the values and dtype of ``arr`` that does NOT share memory with it:
    an independent copy, unaffected by later changes to ``arr``."""
    raise NotImplementedError
