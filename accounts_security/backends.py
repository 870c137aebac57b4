from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts_security import throttle


class ThrottledModelBackend(ModelBackend):
    """Django's username/password backend behind the sign-in lockout.

    While a username or address is locked every attempt is refused before the password is
    checked, so the right password after N wrong ones does not get in. PermissionDenied makes
    Django's `authenticate` stop at once (no other backend is tried)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        address = throttle.client_address(request)
        if throttle.lockout_for(username, address) is not None:
            raise PermissionDenied("sign-in locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if username is not None and password is not None:
                throttle.record_failure(username, address)
        else:
            throttle.record_success(username, address)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
