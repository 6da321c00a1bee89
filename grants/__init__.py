"""grants: calls for projects, reviews, degressive schedules and disbursements."""

from __future__ import annotations

import logging
import os

from flask import Flask

from grants.config import build_config


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=False,
    )
    app.config.update(build_config())
    if config:
        app.config.update(config)
    app.instance_path = app.config["INSTANCE_PATH"]
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from grants import extensions as ext

    ext.db.init_app(app)
    ext.migrate.init_app(
        app,
        ext.db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,  # SQLite alters tables by copy
        compare_type=True,
    )
    ext.csrf.init_app(app)
    ext.babel.init_app(app, locale_selector=lambda: "fr", timezone_selector=lambda: "Europe/Paris")
    ext.limiter.init_app(app)
    ext.celery_init_app(app)

    from grants.core import richtext, security
    from grants.core.formatting import register_filters

    security.init_app(app)
    register_filters(app)
    richtext.register(app)

    with app.app_context():
        from grants.core import sqlite, tasks

        sqlite.install(ext.db.engine)
        tasks.install(ext.db.session)

    # Import every model module so that metadata (and Alembic) sees all tables.
    from grants.accounts import models as _accounts  # noqa: F401
    from grants.accounts.views import bp as accounts_bp
    from grants.api.views import bp as api_bp
    from grants.applications import api as _applications_api  # noqa: F401
    from grants.applications import models as _applications  # noqa: F401
    from grants.applications import tasks as _applications_tasks  # noqa: F401
    from grants.applications.views import bp as applications_bp
    from grants.audit import models as _audit  # noqa: F401
    from grants.audit.views import bp as audit_bp
    from grants.calls import api as _calls_api  # noqa: F401
    from grants.calls import models as _calls  # noqa: F401
    from grants.calls.views import bp as calls_bp
    from grants.core import mail_tasks as _mail_tasks  # noqa: F401
    from grants.core import models as _core  # noqa: F401
    from grants.core.errors import register_error_handlers
    from grants.core.views import bp as core_bp
    from grants.dashboards.views import bp as dashboards_bp
    from grants.decisions import api as _decisions_api  # noqa: F401
    from grants.decisions import models as _decisions  # noqa: F401
    from grants.decisions.views import bp as decisions_bp
    from grants.exports import api as _exports_api  # noqa: F401
    from grants.exports import models as _exports  # noqa: F401
    from grants.exports.views import bp as exports_bp
    from grants.funding import api as _funding_api  # noqa: F401
    from grants.funding import budget_api as _budget_api  # noqa: F401
    from grants.funding import models as _funding  # noqa: F401
    from grants.funding.budget_views import bp as budget_bp
    from grants.funding.views import bp as funding_bp
    from grants.notifications import api as _notifications_api  # noqa: F401
    from grants.notifications import models as _notifications  # noqa: F401
    from grants.notifications.views import bp as notifications_bp
    from grants.organisations import api as _orgs_api  # noqa: F401
    from grants.organisations import models as _orgs  # noqa: F401
    from grants.organisations.views import bp as organisations_bp
    from grants.payments import api as _payments_api  # noqa: F401
    from grants.payments import models as _payments  # noqa: F401
    from grants.payments.views import bp as payments_bp
    from grants.reports import api as _reports_api  # noqa: F401
    from grants.reports.views import bp as reports_bp
    from grants.reviews import api as _reviews_api  # noqa: F401
    from grants.reviews import models as _reviews  # noqa: F401
    from grants.reviews.views import bp as reviews_bp

    for bp in (
        core_bp,
        accounts_bp,
        organisations_bp,
        calls_bp,
        applications_bp,
        reviews_bp,
        decisions_bp,
        budget_bp,
        funding_bp,
        payments_bp,
        notifications_bp,
        exports_bp,
        reports_bp,
        dashboards_bp,
        audit_bp,
        api_bp,
    ):
        app.register_blueprint(bp)
    ext.csrf.exempt(api_bp)  # token-authenticated, no cookies
    register_error_handlers(app)

    from grants.cli import register_commands

    register_commands(app)
    return app
