"""Method registry. Importing this package registers every built-in method."""

from robustmsa.methods import (  # noqa: F401
    casd,
    corrkd,
    dfsd,
    feature_kd,
    gcnet,
    logit_kd,
    mctn,
    mmckd,
    mmin,
    smil,
    student,
    teacher,
    transm,
)
from robustmsa.methods.base import METHODS, FrozenTeacher, Method, register_method

__all__ = ["METHODS", "FrozenTeacher", "Method", "list_methods", "register_method"]


def list_methods() -> list[str]:
    """Names of every registered method."""
    return METHODS.names()
