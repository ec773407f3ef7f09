"""Authorization header to verified user: parsing, keys, JWKS and the permission class."""
