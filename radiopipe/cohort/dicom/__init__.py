"""`radiopipe import dicom`: PACS exports to NIfTI images, masks and a manifest.

scan -> geometry -> rules -> masks -> volume -> importer; see DEVELOPERS.md.
"""
