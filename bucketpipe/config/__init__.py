"""Configuration: the settings object (the only reader of the environment), logging and errors."""
