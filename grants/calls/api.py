"""JSON API of calls (on grants.api.views.bp)."""
