"""JSON API of decisions (on grants.api.views.bp)."""
