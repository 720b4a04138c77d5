"""One home for sizes and budgets.

* :mod:`~toolchain.sizes.units`: "2MiB"-style sizes parsed and printed;
* :mod:`~toolchain.sizes.budget`: size budgets (pyproject.toml, profiles) and the size gate;
* :mod:`~toolchain.sizes.parts`: what a file is made of (its largest parts);
* :mod:`~toolchain.sizes.fit`: the most codes per item a byte budget holds;
* :mod:`~toolchain.sizes.report`: a model's deployed bytes and ratios against its teacher;
* :mod:`~toolchain.sizes.table1`: the paper's Table 1 (Eq. 13 units and bytes over M and K).
"""
