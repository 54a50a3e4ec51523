"""Runtime helpers used inside applications."""
