"""Role checks for views. Ownership is checked by model predicates (``can_*``)."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from grants.core.enums import Role


def has_role(user, *roles: Role) -> bool:
    return bool(user and user.is_authenticated and user.has_any_role(*roles))


def roles_required(*roles: Role):
    """Login required, then one of ``roles`` (admin passes wherever staff does)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(current_user, *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = roles_required(Role.staff, Role.admin)
admin_required = roles_required(Role.admin)
