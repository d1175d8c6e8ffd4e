"""Data quality: report documents, and the scores, column profiles and recommendations in them."""
