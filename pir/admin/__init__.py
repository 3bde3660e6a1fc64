"""The PIR app's admin package."""
