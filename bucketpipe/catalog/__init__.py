"""The dataset catalog: every dataset's schema, keys and extraction, declared once."""
