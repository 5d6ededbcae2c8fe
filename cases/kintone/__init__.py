"""Reading what kintone gives out: its REST API JSON (records and record comments, as saved by its endpoints or
its command-line tool) and its CSV export, and the mapping file that says which kintone field becomes what.

Pure: no models, no audit, no database. ``cases.services.imports`` is the audited path that turns what this package
reads into clients, shares and timeline entries.
"""
