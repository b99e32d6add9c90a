"""The sign-in link's email: sent at once to the person's own address, never to a shared
channel, and never kept in the outbox (it is a credential for 15 minutes, not a notice)."""

from __future__ import annotations

from notifications.channels import label, load_channels, send
from notifications.messages import render
from states.settings import Settings

NO_EMAIL = "xbr has no email server to send sign-in links; ask your xbr admin to set XBR_SMTP_URL"


def send_signin_link(settings: Settings, email: str, name: str, url: str, minutes: int) -> str:
    """Email the link; "" when a server took it, else why not (without secrets)."""
    servers = [
        s
        for s in load_channels(settings).targets(email)
        if s.url(privacy=True).startswith("mailto")
    ]
    if not servers:
        return NO_EMAIL
    message = render(
        "signin",
        {
            "recipient": {"name": name, "email": email},
            "links": {"action": url, "run": None},
            "minutes": minutes,
        },
    )
    refused = [f"{label(s)}: {why}" for s in servers if (why := send(s, message, []))]
    return "; ".join(refused) if len(refused) == len(servers) else ""
