"""One module per report section; each ``build(ctx)`` returns a Section (empty with a note
when the run lacks its inputs)."""
