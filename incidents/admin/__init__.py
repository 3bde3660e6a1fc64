"""The Django admin of the incidents app: one module per area, registered on import."""

from django.contrib import admin

from . import cmdb, majors, others, properties, tickets

# A manager's tool, not "Django administration".
admin.site.site_header = "MIM Desk administration"
admin.site.site_title = "MIM Desk admin"
admin.site.index_title = "Manage MIM Desk"
# At 1366 px the app sidebar took a quarter of the width, and the widest changelists scrolled
# sideways behind it; the breadcrumbs and the index lead to every list instead.
admin.site.enable_nav_sidebar = False

__all__ = ["cmdb", "majors", "others", "properties", "tickets"]
