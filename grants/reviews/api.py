"""JSON API of reviews (on grants.api.views.bp)."""
