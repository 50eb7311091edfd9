"""The rulebook: its model, loading from YAML or a workbook, the workbook form, diff and the scoring component kinds."""
