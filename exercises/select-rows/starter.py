import torch


def select_rows(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Return the rows of ``t`` at the positions listed in ``rows``.

    ``rows`` is a 1-D int64 tensor of row numbers (dimension 0 of ``t``), possibly repeated and
    in any order. Row ``rows[i]`` of ``t`` becomes row ``i`` of the result, so the result has
    shape ``(len(rows), *t.shape[1:])`` and ``t``'s dtype. ``t`` and ``rows`` must not change.
    """
    raise NotImplementedError
