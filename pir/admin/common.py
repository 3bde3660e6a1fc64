"""What the PIR admin pages share."""

# The document, its comments and action items are written on the review's page (or its API),
# through ``pir.services``, each step with its timeline row; the admin reads them.
READ_ONLY = ("add", "change")
