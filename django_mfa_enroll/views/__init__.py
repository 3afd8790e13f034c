"""The DRF door: parse input, call one service, render the answer or the error.

One module per resource: ``secrets``, ``events``, ``login``; ``base`` holds what they share.
"""

from .base import MFAAPIMixin
from .events import EventListView, EventPages
from .login import LoginAPIView, PasswordLoginView, RefreshView, SecondFactorView
from .secrets import SecretViewSet

__all__ = [
    "EventListView",
    "EventPages",
    "LoginAPIView",
    "MFAAPIMixin",
    "PasswordLoginView",
    "RefreshView",
    "SecondFactorView",
    "SecretViewSet",
]
