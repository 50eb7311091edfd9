"""The one door for untrusted workbook bytes (sandboxed parse, limits) and the house style of every workbook written."""
