from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from django_mfa_enroll.admin import MFAUserAdminMixin

from .models import User


@admin.register(User)
class ExampleUserAdmin(MFAUserAdminMixin, UserAdmin):
    """The site's own UserAdmin, with an MFA column, filter and reset action."""
