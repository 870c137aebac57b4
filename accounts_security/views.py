from django.contrib.auth.views import LoginView
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_security import throttle, tokens
from accounts_security.forms import ThrottledAuthenticationForm


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm


TokenReply = inline_serializer(
    "TokenReply", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
)
Refusal = inline_serializer("TokenRefusal", {"detail": serializers.CharField()})


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token that expires (see docs/api.md)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: TokenReply,
            400: OpenApiResponse(description="Wrong username or password, or a field missing."),
            429: OpenApiResponse(Refusal, description="Too many failed sign-ins: locked for a while."),
        },
        auth=[],
    )
    def post(self, request):
        address = throttle.client_address(request)
        username = request.data.get("username") if hasattr(request.data, "get") else None
        locked = throttle.lockout_for(username if isinstance(username, str) else None, address)
        if locked is not None:
            return _locked_response(locked)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            # This failure may be the one that locked the username or address: say so now.
            locked = throttle.lockout_for(username if isinstance(username, str) else None, address)
            if locked is not None:
                return _locked_response(locked)
            raise
        token, expires_at = tokens.issue_token(serializer.validated_data["user"])
        return Response({"token": token.key, "expires_at": expires_at})


def _locked_response(locked: throttle.Lockout) -> Response:
    response = Response({"detail": locked.message}, status=status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(locked.retry_after_seconds(timezone.now()))
    return response
