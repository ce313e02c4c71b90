"""svertka.nn: layers (modules) and their functional form."""
