"""The lakehouse contract in code: bronze table names, columns and types (docs/lakehouse.md)."""
