"""View models of the HTML pages: what the templates read, arranged from stored rows and reports.

They never decide a status (statuses come from the report; words and symbols from
:mod:`diagnostics.render._common`, ticket details from :mod:`diagnostics.render.details`); the
blueprints stay thin and render what these return.
"""
