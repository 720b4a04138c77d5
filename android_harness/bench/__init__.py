"""``odtool bench``: export each model, run it on a device, report the paper's Table 5 layout."""
