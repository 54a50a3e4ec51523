"""The contacts app of the example project."""
