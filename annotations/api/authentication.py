"""API authentication tuned for the rater loop (every request of it carries a token)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from annotations.selectors import token_get_with_user


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's TokenAuthentication (same header, errors and result), its query written out.

    The ORM compile of DRF's `select_related("user").get(key=...)` cost more CPU than the
    rest of the authentication; see bench/README.md.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = token_get_with_user(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
