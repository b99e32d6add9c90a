"""Notifications by role through Apprise, message templates and signed approval links."""
