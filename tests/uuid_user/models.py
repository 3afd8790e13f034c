import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class UUIDUser(AbstractUser):
    """A custom user with a UUID primary key, as in the tutorial's URLs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
