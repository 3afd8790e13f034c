import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A user with a UUID primary key, so URLs look like the tutorial's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
