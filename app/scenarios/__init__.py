"""Scenarios, the unit a team works in: their per-level prompts (`prompts`, pure, used by
the levels), the requests that create and edit them (`requests`), the service that
creates, edits, clones and deletes them (`service`, with the copying in `copying`), their
prompt versions (`versions`), and bundles, their import and export format (`bundles`, with
`manifest` for scenario.yaml and the `bundle_*` modules).

Nothing is imported here: the levels import `app.scenarios.prompts`, and the service imports
the levels' neighbours, so this package's modules are imported by their full names.
"""
