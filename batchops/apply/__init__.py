"""A run: each valid row sent once as its update call, every row's result in the journal first."""
