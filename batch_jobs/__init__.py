"""PySpark / Delta batch jobs: each file is a pure `build()` plus wiring from settings."""
