"""The benchmark's own site: the example project plus the floor endpoint (never in the app)."""
