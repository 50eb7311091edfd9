"""assess-xl: annual target assessment (目标责任制考核) through Excel workbooks."""

__version__ = "0.1.0"
