"""Method registry. Importing this package registers every built-in method."""

from robustmsa.methods import corrkd, feature_kd, logit_kd, student, teacher  # noqa: F401
from robustmsa.methods.base import METHODS, FrozenTeacher, Method, register_method

__all__ = ["METHODS", "FrozenTeacher", "Method", "list_methods", "register_method"]


def list_methods() -> list[str]:
    """Names of every registered method."""
    return METHODS.names()
