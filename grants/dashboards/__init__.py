"""Staff dashboards: envelopes and budget lines against what is committed and paid,
payments over time, jobs created by sector and commune, and the awards' next steps — with
charts drawn on the server as accessible SVG."""
