"""``python -m batchops``."""

from .cli import main

main()
