"""Operations used by the similarity subnet and SCL."""
from .shift import CENTER, OFFSETS, correlation_features, shift_features

__all__ = ["OFFSETS", "CENTER", "shift_features", "correlation_features"]
