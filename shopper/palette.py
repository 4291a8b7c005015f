"""The colours of the charts drawn on the server: the dashboard's trends and the portfolio's sparklines share them."""

INK, MUTED, GRID, LINE, TARGET = "#1b2430", "#5b6675", "#d9dee5", "#1d4e89", "#b3261e"
