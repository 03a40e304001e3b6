"""Method registry. Importing this package registers every built-in method."""

from robustmsa.methods import casd, corrkd, dfsd, feature_kd, logit_kd, mmckd, student, teacher  # noqa: F401
from robustmsa.methods.base import METHODS, FrozenTeacher, Method, register_method

__all__ = ["METHODS", "FrozenTeacher", "Method", "list_methods", "register_method"]


def list_methods() -> list[str]:
    """Names of every registered method."""
    return METHODS.names()
