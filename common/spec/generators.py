"""Generator specs: the case arguments ``exercise.yaml`` writes as a mapping with a ``gen`` key.

A discriminated union on ``gen`` (``tensor`` or ``array``), strict like the rest of the
exercise model, so that a misspelt key, a shape that is not a list of integers or an unknown
distribution is an authoring error at load, with its line, not an exception while grading.
What each key means: :mod:`worker.cases`, which builds the values.

Importable by the web process: no torch, no NumPy.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

# The dtypes a generator may ask for; NumPy has no bfloat16, so it is for tensors only.
ArrayDtype = Literal["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                     "float64", "complex64", "complex128"]
TensorDtype = ArrayDtype | Literal["bfloat16"]
ARRAY_DTYPES: tuple[str, ...] = get_args(ArrayDtype)
Distribution = Literal["uniform", "normal", "int", "bool", "linspace", "arange", "full"]
# Where pydantic's error locations name a branch of the unions below rather than a key of the
# YAML (the loader drops them to find the line).
GENERATED, LITERAL = "generated", "literal"


class _Generator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: tuple[int, ...] = ()
    dist: Distribution = "uniform"
    # The parameters of the distributions (each has its default in worker.cases).
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None
    p: float | None = Field(default=None, ge=0, le=1)
    value: float | None = None
    # Taken literally instead of drawn (a nested list); ``shape`` and ``dist`` are then unused.
    values: list[Any] | None = None
    # Returns a non-contiguous transposed view of ``shape``.
    transpose: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Generator:
        if self.dist == "linspace" and (self.low is None or self.high is None):
            raise ValueError("dist 'linspace' needs 'low' and 'high'")
        if self.transpose is not None and self.values is None:
            rank = len(self.shape)
            if any(not -rank <= d < rank for d in self.transpose):
                raise ValueError(f"transpose {list(self.transpose)} names a dimension that a "
                                 f"shape of {rank} dimensions does not have")
        if any(n < 0 for n in self.shape):
            raise ValueError("a shape has no negative sizes")
        return self


class TensorSpec(_Generator):
    """``gen: tensor``: a torch tensor on the case's device."""

    gen: Literal["tensor"]
    dtype: TensorDtype = "float32"
    requires_grad: bool = False
    # A pre-existing ``.grad`` filled with this number (needs ``requires_grad``).
    grad: float | None = None

    @model_validator(mode="after")
    def _grad_needs_requires_grad(self) -> TensorSpec:
        if self.grad is not None and not self.requires_grad:
            raise ValueError("'grad' needs 'requires_grad: true'")
        return self


class ArraySpec(_Generator):
    """``gen: array``: a NumPy array."""

    gen: Literal["array"]
    dtype: ArrayDtype = "float32"


GeneratorSpec = Annotated[TensorSpec | ArraySpec, Field(discriminator="gen")]


def _argument_kind(value: Any) -> str:
    if isinstance(value, TensorSpec | ArraySpec) or (isinstance(value, dict) and "gen" in value):
        return GENERATED
    return LITERAL


# One argument of a case: a generator spec, or anything else, passed through as written.
Argument = Annotated[
    Annotated[GeneratorSpec, Tag(GENERATED)] | Annotated[Any, Tag(LITERAL)],
    Discriminator(_argument_kind),
]


def as_written(value: Any) -> Any:
    """An argument as ``exercise.yaml`` wrote it (a generator without its defaults)."""
    if isinstance(value, TensorSpec | ArraySpec):
        return value.model_dump(mode="json", exclude_unset=True)
    return value
