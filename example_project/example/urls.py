from django.contrib import admin
from django.urls import include, path

from django_mfa_enroll.admin import use_mfa_login

use_mfa_login(admin.site)  # the admin login asks MFA users for their code

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_mfa_enroll.urls")),
]
