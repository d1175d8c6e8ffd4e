"""The read side: snapshot reader, page queries and the SQL sandbox."""
