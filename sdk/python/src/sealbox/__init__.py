"""Python client for Sealbox, a self-hosted secrets manager.

    import sealbox
    client = sealbox.Client()          # SEALBOX_ADDR, SEALBOX_TOKEN
    secret = client.secrets.create(name="stripe_api_key", value="sk_test_...",
                                   description="Stripe API key", metadata={"owner": "payments"})

    context = sealbox.Context()        # with an identity's token
    value = context.environment.get("MY_SECRET_KEY")

It speaks only the HTTP API (``/v1``) and uses only the standard library.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ClientArgumentError,
    Conflict,
    DestinationFailed,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    SealboxError,
    ServerError,
    TransportError,
    Unauthorized,
)
from .models import (  # noqa: E402
    Action,
    ActionRun,
    AddedMember,
    AuditEvent,
    AuditPage,
    AuditVerification,
    CreatedToken,
    EmailResult,
    Environment,
    ExchangedToken,
    Federation,
    Health,
    Readiness,
    RotationStatus,
    SealStatus,
    HttpResult,
    Identity,
    ImportResult,
    Member,
    Policy,
    Secret,
    SecretVersion,
    SecretVersions,
    Session,
    SqsResult,
    SsoSettings,
    TokenInfo,
    WhoAmI,
    WorkspaceSettings,
)
from .client import Client, Context  # noqa: E402

__all__ = [
    "Action",
    "ActionRun",
    "AddedMember",
    "AuditEvent",
    "AuditPage",
    "AuditVerification",
    "Client",
    "ClientArgumentError",
    "Conflict",
    "Context",
    "CreatedToken",
    "DestinationFailed",
    "EmailResult",
    "Environment",
    "ExchangedToken",
    "Federation",
    "Forbidden",
    "Health",
    "Readiness",
    "RotationStatus",
    "SealStatus",
    "HttpResult",
    "Identity",
    "ImportResult",
    "Invalid",
    "Member",
    "NotFound",
    "Policy",
    "RateLimited",
    "SealboxError",
    "Secret",
    "SecretVersion",
    "SecretVersions",
    "ServerError",
    "Session",
    "SqsResult",
    "SsoSettings",
    "TokenInfo",
    "TransportError",
    "Unauthorized",
    "WhoAmI",
    "WorkspaceSettings",
]
