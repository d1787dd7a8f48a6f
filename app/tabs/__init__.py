"""The dashboard's tabs, one module each, each drawing its tab with ``render(sel: Selection) -> None``."""
