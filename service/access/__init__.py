"""Who may write what: write tokens, authentication, write scope, the audit trail, and
proposals for the shared catalogue."""
