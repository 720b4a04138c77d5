"""Session data: readers for the field's formats, preprocessing, the canonical dataset."""
