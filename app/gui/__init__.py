"""Qt widgets of the explorer (PySide6). Nothing outside ``app`` imports this package."""
