import numpy as np
import torch


def share_from_numpy(arr: np.ndarray) -> torch.Tensor:
    """Return a tensor that shares memory with ``arr`` (same values, same dtype, no copy)."""
    raise NotImplementedError
