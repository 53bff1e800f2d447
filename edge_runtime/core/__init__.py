"""What every layer shares: errors, atomic writes, versions, optional extras, bundled files, the command-line frame."""
