"""The DRF door: parse input, call one service, render the answer or the error.

One module per resource: ``secrets``, ``events``, ``devices``, ``login``; ``base`` holds
what they share.
"""

from .base import MFAAPIMixin
from .devices import DeviceViewSet
from .events import EventListView, EventPages
from .login import LoginAPIView, PasswordLoginView, RefreshView, SecondFactorView
from .secrets import SecretViewSet

__all__ = [
    "DeviceViewSet",
    "EventListView",
    "EventPages",
    "LoginAPIView",
    "MFAAPIMixin",
    "PasswordLoginView",
    "RefreshView",
    "SecondFactorView",
    "SecretViewSet",
]
