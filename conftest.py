"""Root conftest: registers the project's pytest plugins and the --config option.

The plugins live in `fixtures/` so that suites stay thin and the logic they call lives in
`helpers/` (which never imports pytest).
"""

pytest_plugins = ["fixtures.options"]
