"""The app's URLconf: mount it where you like (the example project mounts it at ``/``).

Every path answers with and without a trailing slash.
"""

from django.urls import re_path

from . import views

app_name = "django_mfa_enroll"


secrets_list = views.SecretViewSet.as_view({"get": "list", "post": "create"})
secret_detail = views.SecretViewSet.as_view({"get": "retrieve", "delete": "destroy"})
secret_enroll = views.SecretViewSet.as_view({"put": "enroll"})
secret_qrcode = views.SecretViewSet.as_view({"get": "qrcode"})
secret_codes = views.SecretViewSet.as_view({"post": "codes"})
device_list = views.DeviceViewSet.as_view({"get": "list"})
device_detail = views.DeviceViewSet.as_view({"delete": "destroy"})

_USER = r"users/(?P<user_id>[^/]*)/secrets"
_SECRET = _USER + r"/(?P<secret_id>[^/]*)"

urlpatterns = [
    re_path(rf"^{_USER}/*$", secrets_list, name="secret-list"),
    re_path(rf"^{_SECRET}/*$", secret_detail, name="secret-detail"),
    re_path(rf"^{_SECRET}/enroll/*$", secret_enroll, name="secret-enroll"),
    re_path(rf"^{_SECRET}/qrcode/*$", secret_qrcode, name="secret-qrcode"),
    re_path(rf"^{_SECRET}/codes/*$", secret_codes, name="secret-codes"),
    re_path(r"^users/(?P<user_id>[^/]*)/events/*$", views.EventListView.as_view(), name="events"),
    re_path(r"^users/(?P<user_id>[^/]*)/devices/*$", device_list, name="device-list"),
    re_path(
        r"^users/(?P<user_id>[^/]*)/devices/(?P<device_id>[^/]*)/*$",
        device_detail,
        name="device-detail",
    ),
    re_path(r"^auth/password/*$", views.PasswordLoginView.as_view(), name="auth-password"),
    re_path(r"^auth/totp/*$", views.SecondFactorView.as_view(), name="auth-totp"),
    re_path(r"^auth/refresh/*$", views.RefreshView.as_view(), name="auth-refresh"),
]
