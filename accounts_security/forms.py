from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts_security import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form, with a message that says the sign-in is locked rather than "wrong password"."""

    def clean(self):
        username = self.cleaned_data.get("username")
        locked = throttle.lockout_for(username, throttle.client_address(self.request))
        if locked is not None:
            raise forms.ValidationError(locked.message, code="locked")
        try:
            return super().clean()
        except forms.ValidationError:
            # This failure may be the one that locked the username or address: say so now.
            locked = throttle.lockout_for(username, throttle.client_address(self.request))
            if locked is not None:
                raise forms.ValidationError(locked.message, code="locked") from None
            raise
