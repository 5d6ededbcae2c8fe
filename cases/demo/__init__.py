"""The demo 三条市: its data (``data``) and the seeder that builds it through the services (``seeder``)."""
