"""The PIR app's web package."""
