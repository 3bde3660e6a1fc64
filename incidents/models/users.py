"""What MIM Desk keeps about a user beyond Django's user: how chat tools name them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mim_profile"
    )
    # Slack's member id (``U0123ABCD``): a slash command names its sender by it.
    slack_user_id = models.CharField(max_length=32, unique=True, null=True, blank=True)

    class Meta:
        verbose_name = "MIM Desk profile"

    def __str__(self) -> str:
        return f"profile of {self.user}"
