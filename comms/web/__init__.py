"""comms' pages: the stakeholder-updates panel of the war room (``updates``) and the public status
page (``status``)."""
