"""JSON API of notifications (on grants.api.views.bp)."""
