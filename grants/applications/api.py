"""JSON API of applications and attachments (on grants.api.views.bp)."""
