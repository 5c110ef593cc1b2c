"""The database provider's per-kind modules: each registers its readers, writers and listers in
`mlreg.providers.postgres.DISPATCH` as it is imported."""
