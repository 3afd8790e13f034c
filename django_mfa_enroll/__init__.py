"""Multi-factor authentication for Django sites: enroll a TOTP secret, get backup codes."""

__version__ = "0.1.0.dev0"
