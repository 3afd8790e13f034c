"""The benchmark site's MFA policy (``REQUIRED``): only the user named ``required`` must use
MFA, so the policy's cost shows on a login that passes it and on one that it stops."""


def must_use_mfa(user) -> bool:
    return user.get_username() == "required"
