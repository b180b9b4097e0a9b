"""Outgoing notifications: email delivery (SMTP relay or local maildir) and the SSRF guard."""
